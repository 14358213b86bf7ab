"""The report states what the run recorded in ``run.json``, not what today's code makes of
the raw files: the streamed-request timings and the capacity sentence. Each test plants a
recorded value that the Locust CSV or ``capacity.json`` would not give, so a report that
recomputed would fail; an older run without them gets the derived figure, said to be so.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from chatkit_pg.harness.results import RunFolder
from chatkit_pg.harness.vocabulary import (
    ITL_PREFIX,
    STREAM_PERCENTILES,
    THREADS_ADD_USER_MESSAGE,
    THREADS_CREATE,
    TIMING_TITLES,
    TPOT_PREFIX,
    TTFE_PREFIX,
)
from chatkit_pg.loadtest.orchestration.locust_csv import summarize_stats, timings
from chatkit_pg.reports.build import build
from chatkit_pg.reports.load import load_results
from chatkit_pg.reports.tables_load import load_timings_table, timing_keys

RECORDED_SENTENCE = "sustained capacity: 42 users, 77.0 req/s at p95 <= 1000 ms (as recorded)"


def edit_json(path: Path, change: Callable[[dict[str, Any]], object]) -> None:
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


TTFE: Final = TIMING_TITLES[TTFE_PREFIX] + " (ms)"
PLANTED: Final = {"count": 1628, "p50": 41.5, "p90": 60.5, "p95": 77.5, "p99": 90.5}


def plant_timings(run: dict[str, Any]) -> None:
    """threads.create's ttfe as recorded: values the CSV (28 / 45 / 56 / 90 ms) does not say."""
    entry = next(e for e in run["timings"] if e["request"] == THREADS_CREATE)
    entry["ttfe"] = PLANTED


def percentiles(timing: dict[str, Any]) -> list[float]:
    return [timing[f"p{p}"] for p in STREAM_PERCENTILES]


def markdown_row(request: str, timing: dict[str, Any]) -> str:
    cells = " | ".join(f"{v:.1f}" for v in percentiles(timing))
    return f"| {request} | {TTFE} | {timing['count']:,} | {cells} |"


def from_csv(folder: Path, request: str) -> dict[str, Any]:
    derived = timings(summarize_stats(folder / RunFolder.LOCUST_STATS_FILE))
    return next(e for e in derived if e["request"] == request)["ttfe"]


def test_report_shows_the_timings_run_json_recorded(run_a: Path) -> None:
    csv_create = from_csv(run_a, THREADS_CREATE)
    assert percentiles(csv_create) != percentiles(PLANTED)
    edit_json(run_a / RunFolder.LOADTEST_RUN_FILE, plant_timings)
    lt = load_results(run_a).loadtest
    assert lt is not None and not lt.timings_derived
    table = load_timings_table(lt)
    assert table is not None
    rows = {(row[0], row[1]): row for row in table.rows}
    assert rows[(THREADS_CREATE, TTFE)][3:] == percentiles(PLANTED)
    unplanted = from_csv(run_a, THREADS_ADD_USER_MESSAGE)
    assert rows[(THREADS_ADD_USER_MESSAGE, TTFE)][3:] == percentiles(unplanted)
    titles = {row[1] for row in table.rows}
    assert {TIMING_TITLES[p] + " (ms)" for p in (ITL_PREFIX, TPOT_PREFIX)} <= titles
    text = build(run_a).markdown.read_text()
    assert markdown_row(THREADS_CREATE, PLANTED) in text
    assert markdown_row(THREADS_CREATE, csv_create) not in text
    assert f"As the run recorded them in {RunFolder.LOADTEST_RUN_FILE}." in text


def test_old_run_without_timings_derives_them_from_the_csv_and_says_so(run_a: Path) -> None:
    edit_json(run_a / RunFolder.LOADTEST_RUN_FILE, lambda run: run.pop("timings"))
    lt = load_results(run_a).loadtest
    assert lt is not None and lt.timings_derived
    # Derived by the recorder's own code over the one Locust CSV reader, nothing else.
    assert lt.timings == timings(summarize_stats(run_a / RunFolder.LOCUST_STATS_FILE))
    text = build(run_a).markdown.read_text()
    assert markdown_row(THREADS_CREATE, from_csv(run_a, THREADS_CREATE)) in text
    assert "Derived from Locust's stats CSV" in text and "recorded no timings" in text


def test_locust_files_alone_give_derived_timings(run_a: Path) -> None:
    (run_a / RunFolder.LOADTEST_RUN_FILE).unlink()
    lt = load_results(run_a).loadtest
    assert lt is not None and lt.run is None and lt.timings_derived
    assert {e["request"] for e in lt.timings or ()} == {THREADS_CREATE, THREADS_ADD_USER_MESSAGE}


def test_timing_keys_are_the_recorders() -> None:
    recorded = [k for k in timings([])[0] if k != "request"]
    assert list(timing_keys().values()) == recorded


def test_report_states_the_capacity_sentence_run_json_recorded(run_a: Path) -> None:
    capacity_file = run_a / RunFolder.CAPACITY_FILE
    today = json.loads(capacity_file.read_text())["summary"]
    edit_json(
        run_a / RunFolder.LOADTEST_RUN_FILE,
        lambda run: run["capacity"].update(summary=RECORDED_SENTENCE),
    )
    # capacity.json changed after the run: a report that rebuilt the sentence would say so.
    edit_json(capacity_file, lambda c: c.update(broken=None, reached_top=True))
    lt = load_results(run_a).loadtest
    assert lt is not None
    assert (lt.capacity_summary, lt.capacity_summary_derived) == (RECORDED_SENTENCE, False)
    text = build(run_a).markdown.read_text()
    assert f"Load test, {RECORDED_SENTENCE}." in text  # the verdict
    assert f"**{RECORDED_SENTENCE}**." in text  # the load-test section
    assert today not in text and "at least 70 users" not in text
    assert "recorded no capacity sentence" not in text


def test_capacity_json_summary_serves_when_run_json_has_none(run_a: Path) -> None:
    edit_json(run_a / RunFolder.LOADTEST_RUN_FILE, lambda run: run.pop("capacity"))
    edit_json(run_a / RunFolder.CAPACITY_FILE, lambda c: c.update(summary=RECORDED_SENTENCE))
    lt = load_results(run_a).loadtest
    assert lt is not None
    assert (lt.capacity_summary, lt.capacity_summary_derived) == (RECORDED_SENTENCE, False)


def test_old_run_without_a_capacity_sentence_states_it_derived(run_a: Path) -> None:
    edit_json(run_a / RunFolder.LOADTEST_RUN_FILE, lambda run: run["capacity"].pop("summary"))
    edit_json(run_a / RunFolder.CAPACITY_FILE, lambda c: c.pop("summary"))
    lt = load_results(run_a).loadtest
    assert lt is not None and lt.capacity_summary_derived
    assert (lt.capacity_summary or "").startswith("sustained capacity: 70 users")
    text = build(run_a).markdown.read_text()
    assert f"**{lt.capacity_summary}**." in text
    assert "This run recorded no capacity sentence (an older run)" in text


def test_report_shows_the_load_generators_cpu_and_its_warning(run_a: Path) -> None:
    text = build(run_a).markdown.read_text()
    assert "Load generator CPU per Locust process (% of one core)" in text
    assert "| single | 6 | 87.7 | 97.0 | 97.0 | 4.0 |" in text
    assert "WARNING: load generator near its limit: single at p95 97% of a core" in text
    edit_json(run_a / RunFolder.LOADTEST_RUN_FILE, lambda run: run.pop("load_generator"))
    assert "Load generator CPU" not in build(run_a).markdown.read_text()  # an older run
