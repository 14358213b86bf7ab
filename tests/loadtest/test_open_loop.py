"""Open-loop arrivals, the warm-up window and goodput, against the docs-style server.

Real Locust processes make real requests to a server we did not write (``tests/docs_server``).
The open-loop user must start conversations on its clock and refuse (not queue) those over
the cap; requests that start in ``--warmup`` must be in the records as warm-up and in none of
Locust's statistics; ``chatkit-pg loadtest --host`` with two Locust workers must split the
rate over two generators and write goodput; and a sweep must write the knee.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from chatkit_pg.loadtest.scenarios.acks import read_arrivals, read_records
from tests.loadtest.test_docs_server import FAST, IDENTITY, PATH, locust

pytestmark = pytest.mark.slow

OPEN_LOOP = ("--chatkit-path", PATH, *IDENTITY, "--tags", "open-loop", "-u", "1", "-r", "1")


def open_loop(
    docs_url: str, out: Path, *args: str, seconds: int
) -> tuple[dict[str, dict[str, str]], Path]:
    """One open-loop Locust run that must succeed: its statistics and its records folder."""
    records = out / "requests"
    done, stats = locust(
        docs_url, out, *OPEN_LOOP, *args, "--records-dir", str(records), seconds=seconds
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return stats, records


def test_warmup_requests_are_recorded_apart_and_never_counted(
    docs_url: str, tmp_path: Path
) -> None:
    stats, records = open_loop(
        docs_url, tmp_path, "--arrival-rate", "8", "--warmup", "2", seconds=5
    )
    phases = Counter((r["type"], r["phase"]) for r in read_records(records))
    warmup, measure = phases[("threads.create", "warmup")], phases[("threads.create", "measure")]
    assert warmup >= 3 and measure > 0, phases
    counted = int(stats["threads.create"]["Request Count"])
    # One turn may be cut at the stop between its record and the final statistics; the
    # warm-up (>= 3 turns) counted would be far more.
    assert abs(counted - measure) <= 1, (counted, phases)
    arrivals = list(read_arrivals(records))
    started = [a for a in arrivals if a.get("outcome") == "started"]
    assert {a["phase"] for a in started} == {"warmup", "measure"}
    # The first arrival waits its gap; none fires at the start itself.
    start = next(a["t"] for a in arrivals if a["event"] == "start")
    assert min(a["t"] for a in started) > start


def test_a_full_cap_refuses_arrivals_and_never_exceeds_it(docs_url: str, tmp_path: Path) -> None:
    _, records = open_loop(
        docs_url, tmp_path, "--arrival-rate", "30", "--arrival-cap", "1", seconds=4
    )
    outcomes = Counter(a.get("outcome") for a in read_arrivals(records) if a["event"] == "arrival")
    assert outcomes["refused"] > 0 and outcomes["started"] > 0, outcomes
    spans: dict[str, list[float]] = defaultdict(list)
    for r in read_records(records):
        spans[r["thread_id"] or r["t0"]] += [r["t0"], r["t0"] + r["e2e_ms"] / 1000]
    intervals = sorted((min(s), max(s)) for s in spans.values())
    assert len(intervals) == outcomes["started"]
    for (_, ended), (began, _) in itertools.pairwise(intervals):
        assert began >= ended - 0.005, "two conversations overlapped under a cap of 1"


def test_the_open_loop_user_needs_a_rate(docs_url: str, tmp_path: Path) -> None:
    done, _ = locust(docs_url, tmp_path, *OPEN_LOOP, seconds=1)
    assert done.returncode == 2
    assert "--arrival-rate" in done.stderr and "Traceback" not in done.stderr


def _loadtest(docs_url: str, results: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable, "-m", "chatkit_pg.cli", "loadtest", "--host", docs_url,
        "--chatkit-path", PATH, *IDENTITY, "--header", "X-Reply-Mode: streamed", *FAST,
        "--goodput", "ttft=2000,itl=500,e2e=10000", "--results", str(results), *args,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=180)


def test_distributed_open_loop_splits_the_rate_and_writes_goodput(
    docs_url: str, tmp_path: Path
) -> None:
    done = _loadtest(
        docs_url, tmp_path, "--arrival-rate", "6", "--arrival-cap", "20",
        "--locust-workers", "2", "--run-time", "6s", "--warmup", "1s",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    run = json.loads((tmp_path / "loadtest" / "run.json").read_text())
    arrivals = run["arrivals"]
    assert arrivals["generators"] == 2 and arrivals["rate_per_s"] == 6
    assert arrivals["started"] > 0 and arrivals["refused"] == 0
    starts = [a for a in read_arrivals(tmp_path / "loadtest" / "requests") if a["event"] == "start"]
    assert sorted(a["rate_per_s"] for a in starts) == [3.0, 3.0]
    assert sorted(a["cap"] for a in starts) == [10, 10]
    good = run["goodput"]
    assert good["slo"] == {"ttft": 2000, "itl": 500, "e2e": 10000}
    assert good["requests"] == run["records"]["by_phase"]["measure"] > 0
    assert good["share"] == 1.0 and good["missed_by"] == {}
    assert "open loop: target 6/s" in done.stdout and "goodput (" in done.stdout


def test_a_sweep_writes_each_point_and_the_knee(docs_url: str, tmp_path: Path) -> None:
    # Under a loose SLO both points meet it and the knee is above the top; a 1 µs ttft
    # limit breaks at every load, so no load is the knee, and the sentence says so.
    done = _loadtest(docs_url, tmp_path, "--sweep-rates", "2,4", "--run-time", "3s")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    sweep = json.loads((tmp_path / "loadtest" / "sweep.json").read_text())
    assert [p["load"] for p in sweep["points"]] == [2, 4]
    for point in sweep["points"]:
        assert (tmp_path / point["folder"] / "loadtest" / "run.json").is_file()
        assert point["goodput_share"] == 1.0 and point["ttft_p95_ms"] is not None
    assert sweep["knee"]["load"] == 4 and sweep["knee"]["broken_at"] is None
    assert "4 conversations/s at 99% goodput" in sweep["knee"]["summary"]
    strict = _loadtest(
        docs_url, tmp_path / "strict", "--sweep-rates", "2,4", "--run-time", "3s",
        "--goodput", "ttft=0.001",
    )  # fmt: skip
    assert strict.returncode == 0, strict.stdout[-3000:] + strict.stderr[-3000:]
    knee = json.loads((tmp_path / "strict" / "loadtest" / "sweep.json").read_text())["knee"]
    assert knee["load"] is None and knee["broken_at"] == 2
    assert "no load met the SLO" in knee["summary"]
