"""Concurrency tests: racing store calls on real PostgreSQL (marker ``race``)."""
