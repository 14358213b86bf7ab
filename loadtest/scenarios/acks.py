"""The acknowledgement log: what the load test was told it wrote, for the integrity check.

Every Locust process appends JSON lines to its own file ``acks-<host>-<pid>.jsonl`` in the
ack directory (no locking across processes). For each streamed write the log holds an
``attempt`` record before the request and an ``ack`` (success) or ``fail`` record after it,
with the ids the stream named; a successful ``threads.delete`` adds a ``delete`` record.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

ACK_GLOB: Final = "acks-*.jsonl"


class AckLog:
    """Appends records to this process's file; a no-op when ``directory`` is empty."""

    def __init__(self, directory: str | os.PathLike[str] | None) -> None:
        self.path: Path | None = None
        if directory:
            folder = Path(directory)
            folder.mkdir(parents=True, exist_ok=True)
            self.path = folder / f"acks-{socket.gethostname()}-{os.getpid()}.jsonl"
        self._file: Any = None

    def write(self, record: dict[str, Any]) -> None:
        if self.path is None:
            return
        if self._file is None:
            self._file = self.path.open("a", buffering=1, encoding="utf-8")
        self._file.write(json.dumps(record, separators=(",", ":")) + "\n")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def read_acks(directory: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """Every record of every process in ``directory`` (torn last lines skipped)."""
    for path in sorted(Path(directory).glob(ACK_GLOB)):
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                try:
                    yield json.loads(line)
                except ValueError:
                    continue  # a process killed mid-write
