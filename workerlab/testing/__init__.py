"""Checks for tests and benchmarks: a log against what workers sent, and nothing left behind."""
