"""On/off environment switches and free ports: small helpers the rooms share."""

from __future__ import annotations

import os
import socket

from ..vocabulary import PGBOUNCER_ENV, parse_on_off
from .errors import ProvisioningError


def flag(name: str, default: bool = False) -> bool:
    """An on/off environment variable (``1/true/yes/on``, ``0/false/no/off``)."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return parse_on_off(raw, name)
    except ValueError as exc:
        raise ProvisioningError(str(exc)) from None


def pgbouncer_requested() -> bool:
    """Whether ``CHATKIT_PG_PGBOUNCER`` asks for PgBouncer in front of the test server."""
    return flag(PGBOUNCER_ENV)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on at ``host`` right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
