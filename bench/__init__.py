"""Micro-benchmarks of the store beside the database's own limit (run with ``pytest bench``)."""
