"""The event log: its schema and run-level row, preparing it for computation, Parquet files.

The lowest layer above configuration: everything else reads or writes this one structure.
"""
