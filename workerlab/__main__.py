"""``python -m workerlab`` is the ``workerlab`` command."""

import sys

from .cli import main

sys.exit(main())
