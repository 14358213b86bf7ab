"""The run folder's per-process logs from the orchestration's side: cleared before a run,
and the request records and open-loop arrivals summed up for ``run.json`` (their one
readers are :func:`chatkit_pg.loadtest.scenarios.acks.read_records` and ``read_arrivals``)."""

from __future__ import annotations

import shutil
from collections import Counter
from typing import Any

from chatkit_pg.harness.results import RunFolder
from chatkit_pg.loadtest.scenarios.acks import RECORD_GLOB, read_arrivals
from chatkit_pg.loadtest.scenarios.settings import ScenarioSettings


def clear_logs(folder: RunFolder) -> None:
    """Acks and records of an earlier run in this folder belong to another run."""
    for logs in (RunFolder.ACKS_DIR, RunFolder.RECORDS_DIR):
        shutil.rmtree(folder.path / logs, ignore_errors=True)


def records_brief(folder: RunFolder, records: list[dict[str, Any]]) -> dict[str, Any]:
    """What ``run.json`` says of the per-request records (``records``, read from
    ``folder``): where, how many, by status and phase."""
    directory = folder.path / RunFolder.RECORDS_DIR
    statuses, phases = Counter[str](), Counter[str]()
    for record in records:
        statuses[record.get("status")] += 1
        phases[record.get("phase", "measure")] += 1
    return {
        "dir": RunFolder.RECORDS_DIR,
        "files": len(list(directory.glob(RECORD_GLOB))),
        "requests": sum(statuses.values()),
        "by_status": dict(statuses),
        "by_phase": dict(phases),
    }


def arrivals_brief(folder: RunFolder, scenario: ScenarioSettings) -> dict[str, Any] | None:
    """What ``run.json`` says of an open-loop run (None for a closed loop): the target
    rate, burstiness and cap, and over the measured window (after the warm-up) the arrivals
    started, refused (the cap was full) and skipped (the generator was behind), with the
    rate achieved (started per second) and offered (started + refused)."""
    if not scenario.arrival_rate:
        return None
    lines = list(read_arrivals(folder.path / RunFolder.RECORDS_DIR))
    starts = [line["t"] for line in lines if line.get("event") == "start"]
    counts: Counter[str] = Counter()
    ends: list[float] = []
    for line in lines:
        event = line.get("event")
        if event == "stop":
            ends.append(line["t"])
        elif event in ("arrival", "skipped"):
            ends.append(line["t"])
            if line.get("phase") == "measure":
                counts[line.get("outcome", "skipped")] += line.get("n", 1)
    window = (max(ends) - min(starts) - scenario.warmup) if starts and ends else 0.0
    window = max(window, 0.0)
    offered = counts["started"] + counts["refused"]
    return {
        "rate_per_s": scenario.arrival_rate,
        "burstiness": scenario.arrival_burstiness,
        "cap": scenario.arrival_cap,
        "generators": len(starts),
        "window_s": round(window, 2),
        "started": counts["started"],
        "refused": counts["refused"],
        "skipped": counts["skipped"],
        "achieved_rate_per_s": round(counts["started"] / window, 3) if window else None,
        "offered_rate_per_s": round(offered / window, 3) if window else None,
    }
