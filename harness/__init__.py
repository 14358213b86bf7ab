"""The harness core: provisioning, the results contract, the vocabulary, the race producer.

Everything that measures (bench, races, load tests) stands on these; the store never imports
them, and the report reads only :mod:`.results` and :mod:`.vocabulary` (plain Python).
"""
