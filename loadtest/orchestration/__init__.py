"""The orchestration (plain processes and asyncio): start the database, the server and Locust,
seed, restart the database for chaos runs, and check integrity afterwards."""
