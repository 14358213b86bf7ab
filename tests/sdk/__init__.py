"""The SDK's own test suites, run with ``PostgresStore`` in the slot of the SDK's test store.

``slot_*.py`` are copied into the extracted openai-chatkit sdist (see :mod:`.suites`); they
are never imported by this project's own test run.
"""
