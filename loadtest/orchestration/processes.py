"""The server under test as a child process: start it on a free port, wait, stop it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from chatkit_pg.harness.provision import free_port
from chatkit_pg.harness.vocabulary import DSN_ENV
from chatkit_pg.loadtest.server.settings import ServerSettings

LOOPBACK: Final = "127.0.0.1"


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """Poll ``url`` until it answers 200; fail early if ``process`` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with status {process.returncode} at start")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not become healthy within {timeout:.0f} s")


def stop_process(process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    """SIGINT (graceful), then SIGTERM, then SIGKILL."""
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGINT, timeout), (signal.SIGTERM, 5.0)):
        process.send_signal(sig)
        try:
            process.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue
    process.kill()
    process.wait()


def serve_command(settings: ServerSettings, port: int, workers: int) -> list[str]:
    """``chatkit-pg serve`` on 127.0.0.1:``port`` with ``settings``, without the DSN.

    The DSN goes in the child's environment (:data:`DSN_ENV`): a command line shows in
    ``ps``, and a DSN can hold a password.
    """
    return [
        sys.executable, "-m", "chatkit_pg.cli", "serve",
        "--host", LOOPBACK,
        "--port", str(port),
        "--workers", str(workers),
        *settings.to_options(),
    ]  # fmt: skip


@contextmanager
def running_server(
    settings: ServerSettings, log_path: Path, workers: int = 1
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``chatkit-pg serve`` with ``settings`` on 127.0.0.1:<free port>.

    Args:
        settings: the server under test, its ``dsn`` the database to serve.
        log_path: where the server's output goes.
        workers: uvicorn worker processes.

    Yields:
        The server's base URL and its process; the server is stopped on the way out.
    """
    settings.require_database()
    port = free_port()
    env = {**os.environ, DSN_ENV: settings.dsn}
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            serve_command(settings, port, workers), stdout=log, stderr=subprocess.STDOUT, env=env
        )
        try:
            base = f"http://{LOOPBACK}:{port}"
            wait_healthy(f"{base}/healthz", process)
            yield base, process
        finally:
            stop_process(process)


def fetch_server_metrics(host: str, timeout: float = 10.0) -> dict[str, Any]:
    """The server's ``GET /metrics`` (one worker process's view), or the error."""
    try:
        with urllib.request.urlopen(f"{host}/metrics", timeout=timeout) as resp:
            return {"metrics": json.load(resp), "error": None}
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return {"metrics": None, "error": f"{type(exc).__name__}: {exc}"}


# -- reading Locust's files ---------------------------------------------------------------------
