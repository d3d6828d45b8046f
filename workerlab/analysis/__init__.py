"""What an event log says: per-run summary, latencies, the pace, live statistics, and words."""
