"""The capacity ramp in the report: ``loadtest/capacity.json`` read, drawn, tabled, stated.

The fixture's ramp (written by the ramp's own arithmetic, ``fixture_loadtest.CAPACITY_STEPS``)
holds the SLO up to 70 users and breaks it at 90; the report must say so in one sentence,
in the verdict and the load-test section, mark the knee on its figure and list every step.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatkit_pg.harness.results import RunFolder
from chatkit_pg.harness.vocabulary import capacity_sentence
from chatkit_pg.reports.build import BuiltReport, build
from chatkit_pg.reports.load import ReportInputError, load_results


def test_capacity_is_read_from_its_file(run_a: Path) -> None:
    capacity = load_results(run_a).loadtest.capacity
    assert capacity is not None
    assert [s["users"] for s in capacity["steps"]] == [10, 30, 50, 70, 90]
    assert capacity["sustained"]["users"] == 70
    assert capacity["broken"]["users"] == 90
    assert "conditions" in capacity and capacity["settings"]["slo_p95_ms"] == 1000.0


def test_report_states_the_sustained_capacity(built_a: BuiltReport) -> None:
    markdown = built_a.markdown.read_text()
    capacity = json.loads((built_a.html.parent / RunFolder.CAPACITY_FILE).read_text())
    rps = capacity["sustained"]["rps"]
    sentence = f"sustained capacity: 70 users, {rps:.1f} req/s at p95 <= 1000 ms"
    assert sentence in markdown
    assert markdown.count(sentence) >= 2  # the verdict and the load-test section
    assert capacity_sentence(capacity) in markdown
    assert "figures/capacity.png" in markdown
    assert "within SLO (sustained capacity)" in markdown
    assert "broke the SLO: p95 of 'stream threads.add_user_message'" in markdown
    assert "capacity ramp from 10 to 130 users" in markdown


@pytest.mark.parametrize(
    ("capacity", "expected"),
    [
        (
            {"slo_p95_ms": 500, "request": "ttft x", "steps": [{}], "sustained": None,
             "broken": {"users": 10, "reason": "p95 900 ms > 500 ms"}},
            "sustained capacity: below 10 users at p95 <= 500 ms of 'ttft x'",
        ),
        (
            {"slo_p95_ms": 500, "request": "ttft x", "steps": [{}], "reached_top": True,
             "sustained": {"users": 200, "rps": 321.04}, "broken": None},
            "sustained capacity: at least 200 users, 321.0 req/s at p95 <= 500 ms",
        ),
        ({"slo_p95_ms": 500, "steps": []}, "sustained capacity: not measured"),
    ],
)  # fmt: skip
def test_capacity_sentence_covers_every_ending(capacity: dict, expected: str) -> None:
    assert capacity_sentence(capacity).startswith(expected)


def test_capacity_without_a_step_that_broke_it(run_a: Path) -> None:
    """An older run that recorded no sentence: today's ``capacity_sentence`` states it."""
    path = run_a / RunFolder.CAPACITY_FILE
    capacity = json.loads(path.read_text())
    capacity["steps"] = capacity["steps"][:4]
    capacity["broken"], capacity["reached_top"] = None, True
    del capacity["summary"]
    path.write_text(json.dumps(capacity))
    run_file = run_a / RunFolder.LOADTEST_RUN_FILE
    run = json.loads(run_file.read_text())
    del run["capacity"]["summary"]
    run_file.write_text(json.dumps(run))
    built = build(run_a)
    assert "sustained capacity: at least 70 users" in built.markdown.read_text()


def test_malformed_capacity_file_names_it(run_a: Path) -> None:
    path = run_a / RunFolder.CAPACITY_FILE
    path.write_text(json.dumps({"steps": [{"users": 10}]}))
    with pytest.raises(ReportInputError, match=r"capacity\.json"):
        load_results(run_a)
