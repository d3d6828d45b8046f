"""Many runs: sweeps over worker counts, run locally on one event loop or on Dask."""
