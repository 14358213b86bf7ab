"""The load test's JSON-lines logs, one file per Locust process (no locking across them).

* The acknowledgement log (:class:`AckLog`, ``acks-<host>-<pid>.jsonl``): what the load
  test was told it wrote, for the integrity check. For each streamed write it holds an
  ``attempt`` record before the request and an ``ack`` (success) or ``fail`` record after
  it, with the ids the stream named; a successful ``threads.delete`` adds a ``delete``.
* The request records (:class:`RecordLog`, ``requests-<host>-<pid>.jsonl``): one line per
  request -- type, user, thread, status, failure kind, its timings and its ``phase``
  (``warmup`` or ``measure``) -- beside Locust's aggregates, for the report and any external
  tool (:func:`read_records`).
* The arrivals (:class:`ArrivalLog`, ``arrivals-<host>-<pid>.jsonl``, open loop only): each
  open-loop user's ``start`` (its rate, burstiness and cap), each ``arrival`` (``started`` or
  ``refused``: the cap was full), each run of ``skipped`` arrivals (the generator was behind)
  and its ``stop``, for run.json's achieved rate (:func:`read_arrivals`).
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

ACK_GLOB: Final = "acks-*.jsonl"
RECORD_GLOB: Final = "requests-*.jsonl"
ARRIVAL_GLOB: Final = "arrivals-*.jsonl"


class JsonLinesLog:
    """Appends records to this process's ``<prefix>-<host>-<pid>.jsonl`` in ``directory``;
    a no-op when ``directory`` is empty."""

    def __init__(self, directory: str | os.PathLike[str] | None, prefix: str) -> None:
        self.path: Path | None = None
        if directory:
            folder = Path(directory)
            folder.mkdir(parents=True, exist_ok=True)
            self.path = folder / f"{prefix}-{socket.gethostname()}-{os.getpid()}.jsonl"
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


class AckLog(JsonLinesLog):
    def __init__(self, directory: str | os.PathLike[str] | None) -> None:
        super().__init__(directory, "acks")


class RecordLog(JsonLinesLog):
    """Request records; ``phase_at`` (a request's start -> its phase) stamps each one."""

    def __init__(
        self,
        directory: str | os.PathLike[str] | None,
        phase_at: Callable[[float], str] | None = None,
    ) -> None:
        super().__init__(directory, "requests")
        self.phase_at = phase_at

    def write(self, record: dict[str, Any]) -> None:
        if self.phase_at is not None and "t0" in record:
            record = {**record, "phase": self.phase_at(record["t0"])}
        super().write(record)


class ArrivalLog(JsonLinesLog):
    def __init__(self, directory: str | os.PathLike[str] | None) -> None:
        super().__init__(directory, "arrivals")


def _read(directory: str | os.PathLike[str], pattern: str) -> Iterator[dict[str, Any]]:
    for path in sorted(Path(directory).glob(pattern)):
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                try:
                    yield json.loads(line)
                except ValueError:
                    continue  # a process killed mid-write


def read_acks(directory: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """Every acknowledgement of every process in ``directory`` (torn last lines skipped)."""
    return _read(directory, ACK_GLOB)


def read_records(directory: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """Every request record of every process in ``directory`` (torn last lines skipped)."""
    return _read(directory, RECORD_GLOB)


def read_arrivals(directory: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """Every open-loop arrival line of every process in ``directory``."""
    return _read(directory, ARRIVAL_GLOB)
