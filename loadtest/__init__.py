"""Load tests: a ChatKit HTTP server on the PostgreSQL store, and the Locust scenarios
that drive it (locally, distributed, or against a staging deployment).

``loadtest.server`` runs inside the server process (FastAPI, asyncio); the Locust side
(``locustfile.py``, ``sse.py``, ``client.py``, ``settings.py``, ``shapes.py``, ``acks.py``)
runs under gevent and imports neither the store nor the server. ``run.py``, ``seed.py`` and
``integrity.py`` wire both together for ``chatkit-pg loadtest``.
"""
