"""A capacity sweep in the report: ``loadtest/sweep.json`` read, drawn, tabled and stated,
and one run's goodput and open-loop arrivals from its ``run.json``.

The sweep is written by the sweep's own code (:func:`run_sweep`, whose points come from
each point's run.json with :func:`goodput` and :func:`turn_latencies` over records); only
the Locust run under each point is replaced, by records whose stream end grows with the
load, so goodput holds at 1 and 2 conversations/s and falls at 4.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chatkit_pg.harness.results import RunFolder
from chatkit_pg.loadtest.orchestration.config import LoadTestConfig
from chatkit_pg.loadtest.orchestration.goodput import goodput, turn_latencies
from chatkit_pg.loadtest.orchestration.sweep import Sweep, run_sweep
from chatkit_pg.reports.build import build
from chatkit_pg.reports.load import ReportInputError, load_results

LIMITS = {"ttft": 500.0, "e2e": 2000.0}


def records_at(rate: float) -> list[dict[str, Any]]:
    """Twenty turns whose stream end is 400 ms per conversation/s, every third one slow."""
    return [
        {"type": "threads.create", "status": "ok", "t0": n * 0.1, "phase": "measure",
         "ttft_ms": 50.0, "itl_ms": [5.0, 6.0], "e2e_ms": 400.0 * rate * (1 + (n % 3 == 0))}
        for n in range(20)
    ]  # fmt: skip


def fake_point(config: LoadTestConfig, folder: RunFolder) -> int:
    records = records_at(config.scenario.arrival_rate or 0)
    run = {
        "locust_requests": len(records),
        "locust_failures": 0,
        "integrity_passed": True,
        "goodput": goodput(records, LIMITS),
        "turns": turn_latencies(records),
        "arrivals": {"achieved_rate_per_s": config.scenario.arrival_rate, "refused": 0},
    }
    folder.write_json(RunFolder.LOADTEST_RUN_FILE, run, {})
    return 0


@pytest.fixture
def swept(tmp_path: Path) -> Path:
    folder = RunFolder.at(tmp_path / "sweep")
    sweep = Sweep("rates", (1.0, 2.0, 4.0), target=0.99)
    assert run_sweep(LoadTestConfig(goodput=LIMITS), folder, sweep, fake_point) == 0
    return folder.path


def test_the_sweep_is_read_from_its_file(swept: Path) -> None:
    lt = load_results(swept).loadtest
    assert lt is not None and lt.sweep is not None
    assert [p["load"] for p in lt.sweep["points"]] == [1.0, 2.0, 4.0]
    assert lt.sweep["knee"]["load"] == 2.0 and lt.sweep["knee"]["broken_at"] == 4.0
    assert lt.stats is None  # the points' Locust files are in their own folders


def test_report_states_the_knee_draws_and_tables_it(swept: Path) -> None:
    markdown = build(swept).markdown.read_text()
    assert markdown.startswith("# Load test of our server on PostgresStore\n")
    assert "**Capacity sweep: 2 conversations/s at 99% goodput; at 4 goodput fell to 65.0%" in (
        markdown
    )
    assert "(SLO ttft <= 500 ms, e2e <= 2000 ms)" in markdown
    assert (swept / "figures" / "sweep_goodput.png").stat().st_size > 10_000
    assert "figures/sweep_goodput.png" in markdown
    assert "at target (the knee)" in markdown and "below target" in markdown
    assert "loadtest/locust_stats.csv" not in markdown  # not "missing": it is per point


def test_one_run_shows_its_goodput_and_arrivals(swept: Path) -> None:
    point = swept / RunFolder.SWEEP_DIR / "rate-4"
    run = json.loads((point / RunFolder.LOADTEST_RUN_FILE).read_text())
    run["arrivals"] = {"rate_per_s": 4.0, "burstiness": 1.0, "cap": 32, "started": 58,
                       "refused": 2, "skipped": 0, "achieved_rate_per_s": 3.87}  # fmt: skip
    (point / RunFolder.LOADTEST_RUN_FILE).write_text(json.dumps(run))
    markdown = build(point).markdown.read_text()
    assert "Goodput at SLO ttft=500,e2e=2000 (ms): 65.0% (95% CI 43.3-81.9%) of 20 requests" in (
        markdown
    )
    assert "Missed, by the first limit missed: e2e 7." in markdown
    assert "3.87/s achieved; 58 started, 2 refused at the cap" in markdown


def test_a_sweep_file_without_its_knee_is_named(swept: Path) -> None:
    path = swept / RunFolder.SWEEP_FILE
    document = json.loads(path.read_text())
    del document["knee"]["summary"]
    path.write_text(json.dumps(document))
    with pytest.raises(ReportInputError, match=r"sweep\.json.*summary"):
        load_results(swept)
