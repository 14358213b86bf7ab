"""The load test's files: Locust's CSVs in Locust's format, the integrity check, the capacity
ramp by its own arithmetic, and ``run.json`` through the load test's own result writer."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path
from typing import Any, Final

from chatkit_pg.harness.results import RunFolder
from chatkit_pg.harness.vocabulary import (
    CONNECTION_ERROR,
    EARLY_END,
    ITEMS_LIST,
    ITL_PREFIX,
    LOCUST_TOTAL_NAME,
    SSE_TYPE,
    STREAM_PREFIX,
    STREAMING_REQUESTS,
    THREADS_ADD_USER_MESSAGE,
    THREADS_CREATE,
    THREADS_DELETE,
    THREADS_LIST,
    THREADS_UPDATE,
    TIMEOUT,
    TPOT_PREFIX,
    TTFE_PREFIX,
    TTFT_PREFIX,
)
from chatkit_pg.loadtest.orchestration.loadgen_cpu import summarize
from chatkit_pg.loadtest.scenarios.sse import StreamFailure
from chatkit_pg.strategies import STRATEGIES

from .fixture_common import (
    LOAD_DSN,
    POSTGRES,
)

LOCUST_PCTS: Final = (
    "50%",
    "66%",
    "75%",
    "80%",
    "90%",
    "95%",
    "98%",
    "99%",
    "99.9%",
    "99.99%",
    "100%",
)


PCT_FACTORS: Final = (1.0, 1.15, 1.25, 1.33, 1.6, 2.0, 2.6, 3.2, 5.0, 6.0, 6.5)


# (type, name) -> (requests, failures, median ms, average content size)
REQUESTS: Final = {
    ("POST", ITEMS_LIST): (3120, 0, 7, 5210),
    ("POST", THREADS_ADD_USER_MESSAGE): (1630, 2, 24, 0),
    ("POST", THREADS_CREATE): (412, 1, 26, 0),
    ("POST", THREADS_DELETE): (96, 0, 9, 2),
    ("POST", THREADS_LIST): (1530, 1, 11, 3380),
    ("POST", THREADS_UPDATE): (188, 0, 8, 410),
    **{(SSE_TYPE, f"{STREAM_PREFIX}{kind}"): (1628, 0, 330, 0) for kind in STREAMING_REQUESTS},
    **{(SSE_TYPE, f"{TTFE_PREFIX}{kind}"): (1628, 0, 28, 0) for kind in STREAMING_REQUESTS},
    **{(SSE_TYPE, f"{TTFT_PREFIX}{kind}"): (1628, 0, 31, 0) for kind in STREAMING_REQUESTS},
    # eight deltas a reply: seven gaps a stream
    **{(SSE_TYPE, f"{ITL_PREFIX}{kind}"): (11396, 0, 5, 0) for kind in STREAMING_REQUESTS},
    **{(SSE_TYPE, f"{TPOT_PREFIX}{kind}"): (1628, 0, 6, 0) for kind in STREAMING_REQUESTS},
}


# (request, failure kind, detail, occurrences, first seen second): failure messages as the
# load test's client raises them and Locust wraps them.
FAILURES: Final = (
    (THREADS_ADD_USER_MESSAGE, EARLY_END, "stream ended before any event", 2, 17),
    (THREADS_CREATE, TIMEOUT, "no event within 10.0 s", 1, 24),
    (THREADS_LIST, CONNECTION_ERROR, "no HTTP response", 1, 24),
)


RUN_SECONDS: Final = 30


START: Final = 1_764_140_400  # 2025-11-26 07:00 UTC


def locust_value(ms: float) -> int:
    """Locust rounds response times: to 1 ms below 100, 10 below 1000, 100 above."""
    step = 1 if ms < 100 else 10 if ms < 1000 else 100
    return int(round(ms / step) * step)


def write_csv(path: Path, header: tuple[str, ...], rows: list[list[Any]]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


STATS_HEADER: Final = (
    "Type",
    "Name",
    "Request Count",
    "Failure Count",
    "Median Response Time",
    "Average Response Time",
    "Min Response Time",
    "Max Response Time",
    "Average Content Size",
    "Requests/s",
    "Failures/s",
    *LOCUST_PCTS,
)


HISTORY_HEADER: Final = (
    "Timestamp",
    "User Count",
    "Type",
    "Name",
    "Requests/s",
    "Failures/s",
    *LOCUST_PCTS,
    "Total Request Count",
    "Total Failure Count",
    "Total Median Response Time",
    "Total Average Response Time",
    "Total Min Response Time",
    "Total Max Response Time",
    "Total Average Content Size",
)


def write_locust(folder: RunFolder) -> None:
    """locust_stats.csv, _stats_history.csv, _failures.csv, _exceptions.csv, _report.html."""
    stats_rows = []
    for (kind, name), (n, fails, median, size) in REQUESTS.items():
        pcts = [locust_value(median * f) for f in PCT_FACTORS]
        average, fastest = round(median * 1.3, 6), round(median * 0.4, 6)
        per_s = (round(n / RUN_SECONDS, 6), round(fails / RUN_SECONDS, 6))
        stats_rows.append(
            [kind, name, n, fails, median, average, fastest, pcts[-1], size, *per_s, *pcts]
        )
    total, failed = (sum(r[i] for r in REQUESTS.values()) for i in (0, 1))
    per_s = (round(total / RUN_SECONDS, 6), round(failed / RUN_SECONDS, 6))
    pcts = [locust_value(14 * f) for f in PCT_FACTORS]
    stats_rows.append(
        ["", LOCUST_TOTAL_NAME, total, failed, 14, 61.4, 2.1, 2290, 1621, *per_s, *pcts]
    )
    write_csv(folder.file(RunFolder.LOCUST_STATS_FILE), STATS_HEADER, stats_rows)
    rng = random.Random(7)
    zeros = ["N/A"] * len(LOCUST_PCTS)
    history = [
        [START, 0, "", LOCUST_TOTAL_NAME, "0.000000", "0.000000", *zeros, 0, 0, 0, 0.0, 0, 0, 0.0]
    ]
    count = 0
    for t in range(1, RUN_SECONDS + 1):
        users = min(50, 10 * t)
        rps = users * 9.4 * rng.uniform(0.9, 1.08)
        count += int(rps)
        median = 6 + users * 0.18 * rng.uniform(0.85, 1.15)
        pcts = [locust_value(median * f) for f in PCT_FACTORS]
        fails = 2 if t in (17, 24) else 0
        so_far = 4 if t >= 24 else 2 if t >= 17 else 0
        rates = (f"{rps:.6f}", f"{fails:.6f}")
        totals = (count, so_far, pcts[0], round(median * 1.4, 3), 2, 2290, 1621.0)
        history.append([START + t, users, "", LOCUST_TOTAL_NAME, *rates, *pcts, *totals])
    write_csv(folder.file(RunFolder.LOCUST_HISTORY_FILE), HISTORY_HEADER, history)
    failures = []
    for name, kind, detail, n, second in FAILURES:
        seen = f"2025-11-26T07:00:{second:02d}Z"
        message = f"CatchResponseError({str(StreamFailure(kind, detail))!r})"
        failures.append(["POST", name, message, n, seen, seen])
    write_csv(
        folder.file(RunFolder.LOCUST_FAILURES_FILE),
        ("Method", "Name", "Error", "Occurrences", "First Seen", "Last Seen"),
        failures,
    )
    write_csv(
        folder.file(RunFolder.LOCUST_EXCEPTIONS_FILE),
        ("Count", "Message", "Traceback", "Nodes"),
        [],
    )
    folder.file(RunFolder.LOCUST_HTML_FILE).write_text(
        "<!DOCTYPE html><html><body><h1>Locust report (fixture stand-in)</h1></body></html>\n"
    )


def integrity() -> dict[str, Any]:
    """What loadtest.orchestration.integrity.check_integrity returns for a clean run."""
    checks = [
        ("acknowledged_items_stored", "2,039 acknowledged writes, every reported item stored"),
        ("no_extra_messages", "411 threads hold exactly the acknowledged messages"),
        ("assistant_text_matches", "stored assistant text equals streamed text"),
        ("threads_owned", "411 created threads owned by creator"),
        ("deleted_threads_gone", "96 deleted threads left no rows"),
        ("sort_keys_unique", "no duplicate (thread_id, sort_key)"),
        ("sort_keys_gapless", "every thread's keys are 1..n (strategy counter promises it)"),
        ("no_orphans", "no orphan or misfiled items or attachments"),
    ]
    guarantees = STRATEGIES["counter"].guarantees
    return {
        "passed": True,
        "checks": [{"name": n, "passed": True, "detail": d} for n, d in checks],
        "acknowledged": {
            THREADS_CREATE: 411,
            THREADS_ADD_USER_MESSAGE: 1628,
            THREADS_DELETE: 96,
            "unconfirmed": 3,
            "writes": 2039,
            "writes_found_intact": 2039,
            "threads_checked": 411,
            "strategy_guarantees": {
                "race_free": guarantees.race_free,
                "gapless": guarantees.gapless,
                "commit_order": guarantees.commit_order,
            },
        },
        "found": {"threads": 411, "user_messages": 2039, "assistant_messages": 2039},
    }


# The capacity ramp: per step (users, ChatKit requests, failures, stream p95 in ms). The
# fifth step breaks the SLO (p95 over 1000 ms), so the knee is 70 users.
CAPACITY_STEPS: Final = ((10, 180, 0, 95.0), (30, 560, 0, 180.0), (50, 930, 0, 330.0),
                         (70, 1240, 0, 720.0), (90, 1400, 2, 1500.0))  # fmt: skip


def write_capacity_steps(folder: RunFolder, capacity: Any) -> None:
    """``capacity.json`` as the ramp writes it (``scenarios/capacity_steps.py``): snapshots of
    cumulative counters closed into steps, then the verdict."""
    from collections import Counter

    from chatkit_pg.loadtest.scenarios.capacity_steps import Snapshot, close_step, verdict

    steps, before = [], Snapshot(0.0)
    for index, (users, requests, failures, p95) in enumerate(CAPACITY_STEPS):
        completed = requests // 4
        times = Counter({locust_value(p95 * 0.4): completed - completed // 10})
        times[locust_value(p95)] += completed // 10 - 1
        times[locust_value(p95 * 1.3)] += 1
        after = Snapshot(
            before.at + capacity.step_duration,
            before.times + times,
            before.completed + completed,
            before.requests + requests,
            before.failures + failures,
        )
        steps.append(
            close_step(
                index, users, before, after, capacity.slo_p95_ms, capacity.max_fail_ratio,
                capacity.request,
            )
        )  # fmt: skip
        before = after
    result = verdict(
        steps, capacity.request, capacity.slo_p95_ms, capacity.max_fail_ratio,
        capacity.max_users, complete=True,
    )  # fmt: skip
    path = folder.file(RunFolder.CAPACITY_FILE)
    path.write_text(json.dumps(result, indent=2) + "\n")


def write_loadtest(folder: RunFolder) -> None:
    """The load test's files, through its own conditions and results writers."""
    # Imported here: the load test's orchestration is the heaviest producer to import.
    from chatkit_pg.loadtest.orchestration import run

    config = run.LoadTestConfig(users=50, spawn_rate=10.0, run_time=f"{RUN_SECONDS}s")
    config.capacity = run.CapacityOptions(
        start_users=10, step_users=20, step_duration=10.0, max_users=130, spawn_rate=50.0
    )
    conditions = run.record_conditions(folder, config, LOAD_DSN, POSTGRES)
    write_locust(folder)
    write_capacity_steps(folder, config.capacity)
    capacity = run.finish_capacity(folder, conditions, config.capacity)
    seeded = run.Seeded({"users": 50, "threads": 6, "items": 4006}, 1.8)
    rows = run.summarize_stats(folder.path / RunFolder.LOCUST_STATS_FILE)
    # The CPU of a one-process run, as the orchestration's sampler summarizes it: busy.
    cpu = summarize({("single", 0, 4242): [62.0, 88.0, 93.0, 95.0, 97.0, 91.0]})
    load = run.LoadRun(locust_status=1, ended_at=START + RUN_SECONDS, load_generator=cpu)
    run.write_results(folder, conditions, config, seeded, load, rows, integrity(), None, capacity)
    # Planted secrets, as a careless producer might leave them: a DSN with its password and
    # a token. The report must mask both whatever the producer did.
    path = folder.path / RunFolder.LOADTEST_RUN_FILE
    document = json.loads(path.read_text())
    document["settings"]["dsn"] = LOAD_DSN
    document["settings"]["auth_token"] = "Bearer load-test-user-{n}"
    path.write_text(json.dumps(document, indent=2) + "\n")
