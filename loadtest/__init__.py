"""Load tests: a ChatKit HTTP server on the PostgreSQL store, and the Locust scenarios
that drive it (locally, distributed, or against a staging deployment).

Three subpackages, one per runtime:

* :mod:`.scenarios` -- the Locust side (gevent): ``locustfile.py``, ``client.py``,
  ``sse.py``, ``settings.py``, ``shapes.py``, ``acks.py``, ``seed_http.py``. Imports nothing
  from the other two, no store and no database driver (``tests/loadtest/test_layers.py``).
* :mod:`.server` -- the server under test (FastAPI, asyncio), described by one
  :class:`~.server.settings.ServerSettings`.
* :mod:`.orchestration` -- plain processes and asyncio for ``chatkit-pg loadtest``:
  ``run.py`` (both flows, one run record, one exit-code ladder), ``config.py`` (the run's
  settings), ``processes.py`` (server processes), ``locust_command.py`` (building and running
  Locust), ``locust_csv.py`` (the only reader of Locust's CSVs), ``console.py``, ``seed.py``,
  ``chaos.py``, ``integrity.py``. It starts the server
  and Locust as subprocesses; of their code it uses only ``ServerSettings`` and the ack
  log's reader (:func:`.scenarios.acks.read_acks`).
"""
