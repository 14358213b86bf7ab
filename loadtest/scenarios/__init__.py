"""The Locust side (gevent): the locustfile, its ChatKit client and SSE rules, seeding over HTTP.

Runs inside Locust processes only; imports no database driver and no asyncio code.
"""
