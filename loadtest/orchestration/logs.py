"""The run folder's per-process logs from the orchestration's side: cleared before a run,
and the request records summed up for ``run.json`` (their one reader is
:func:`chatkit_pg.loadtest.scenarios.acks.read_records`)."""

from __future__ import annotations

import shutil
from collections import Counter
from typing import Any

from chatkit_pg.harness.results import RunFolder
from chatkit_pg.loadtest.scenarios.acks import RECORD_GLOB, read_records


def clear_logs(folder: RunFolder) -> None:
    """Acks and records of an earlier run in this folder belong to another run."""
    for logs in (RunFolder.ACKS_DIR, RunFolder.RECORDS_DIR):
        shutil.rmtree(folder.path / logs, ignore_errors=True)


def records_brief(folder: RunFolder) -> dict[str, Any]:
    """What ``run.json`` says of the per-request records: where, how many, by status."""
    directory = folder.path / RunFolder.RECORDS_DIR
    statuses = Counter(r.get("status") for r in read_records(directory))
    return {
        "dir": RunFolder.RECORDS_DIR,
        "files": len(list(directory.glob(RECORD_GLOB))),
        "requests": sum(statuses.values()),
        "by_status": dict(statuses),
    }
