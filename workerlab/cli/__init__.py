"""The ``workerlab`` command line: run, sweep, threshold and worker."""
