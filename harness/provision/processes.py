"""Running server programs, as the ``postgres`` OS user when this process is root."""

from __future__ import annotations

import os
import pwd
import subprocess
from pathlib import Path
from typing import Final

from .errors import ProvisioningError

SYSTEM_OS_USER: Final = "postgres"
"""The OS user that runs a system server (and PgBouncer) when this process is root."""


def _quote(arg: str) -> str:
    return "'" + arg.replace("'", "'\\''") + "'"


def run_as(user: str | None, command: list[str], *, cwd: Path | None = None) -> str:
    """Run ``command`` (as OS ``user`` through su when given); its output, or ProvisioningError."""
    if user:
        command = ["su", user, "-s", "/bin/sh", "-c", " ".join(_quote(a) for a in command)]
    try:
        done = subprocess.run(
            command, check=True, capture_output=True, text=True, timeout=120, cwd=cwd
        )
    except subprocess.CalledProcessError as exc:
        raise ProvisioningError(
            f"{' '.join(command)} failed (exit {exc.returncode}): "
            f"{(exc.stderr or exc.stdout or '').strip()[-1500:]}"
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise ProvisioningError(f"{' '.join(command)} did not finish in 120 s") from exc
    return done.stdout


def unprivileged_user() -> str | None:
    """The OS user to run server programs as: ``postgres`` (or ``nobody``) for root, else us."""
    if os.geteuid() != 0:
        return None
    for name in (SYSTEM_OS_USER, "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise ProvisioningError(
        f"running as root, but there is no {SYSTEM_OS_USER!r} OS user to run PostgreSQL or "
        "PgBouncer as (PostgreSQL refuses to run as root): apt-get install postgresql-15 "
        "creates it"
    )


def give_to(path: Path, user: str | None) -> None:
    """Make ``path`` (and what is in it) owned by OS ``user``."""
    if not user:
        return
    entry = pwd.getpwnam(user)
    for item in [path, *path.rglob("*")]:
        os.chown(item, entry.pw_uid, entry.pw_gid)
