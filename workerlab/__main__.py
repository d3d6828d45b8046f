"""``python -m workerlab`` is the ``workerlab`` command."""

import sys

from workerlab.cli.main import main

sys.exit(main())
