"""Goodput from the per-request records, the warm-up gate, and a sweep's knee (no server)."""

from __future__ import annotations

from typing import Any

import pytest

from chatkit_pg.loadtest.orchestration.goodput import (
    goodput,
    missed,
    parse_goodput,
    percentile,
    share_interval,
)
from chatkit_pg.loadtest.orchestration.sweep import Sweep, knee, parse_loads
from chatkit_pg.loadtest.scenarios.phases import PhaseGate


def turn(**given: Any) -> dict[str, Any]:
    record = {
        "t0": 100.0, "type": "threads.add_user_message", "status": "ok", "phase": "measure",
        "ttft_ms": 50.0, "itl_ms": [10.0, 20.0], "tpot_ms": 15.0, "e2e_ms": 500.0,
    }  # fmt: skip
    return {**record, **given}


def test_parse_goodput_reads_limits_and_names_each_mistake() -> None:
    assert parse_goodput("ttft=2000, itl=200,e2e=10000") == {
        "ttft": 2000.0, "itl": 200.0, "e2e": 10000.0,
    }  # fmt: skip
    mistakes = [
        ("ttfx=1", "unknown metric 'ttfx'"), ("ttft=0", "MS > 0"), ("ttft", "MS > 0"),
        ("ttft=1,ttft=2", "given twice"), ("", "at least"),
    ]  # fmt: skip
    for bad, named in mistakes:
        with pytest.raises(ValueError, match="--goodput") as caught:
            parse_goodput(bad)
        assert named in str(caught.value)


def test_a_request_misses_at_its_first_broken_limit() -> None:
    limits = {"ttft": 100.0, "itl": 15.0, "e2e": 1000.0}
    assert missed(turn(), {"ttft": 100.0, "e2e": 1000.0}) is None
    assert missed(turn(), limits) == "itl"  # its largest gap, 20 ms, breaks it
    assert missed(turn(ttft_ms=None), limits) == "ttft"  # no assistant text: no ttft
    assert missed(turn(status="failed"), limits) == "failed"
    assert missed(turn(itl_ms=[]), {"itl": 1.0}) is None  # one delta: no gap
    listing = {"t0": 1.0, "type": "threads.list", "status": "ok", "e2e_ms": 5.0}
    assert missed(listing, limits) is None  # streamed-only limits do not apply
    assert missed({**listing, "e2e_ms": 5000.0}, limits) == "e2e"


def test_goodput_counts_measured_requests_per_second_of_the_window() -> None:
    records = [
        turn(t0=100.0),
        turn(t0=101.0, ttft_ms=900.0),
        turn(t0=102.0, e2e_ms=1000.0),  # the window ends at 103.0
        turn(t0=99.0, phase="warmup", status="failed"),
    ]
    result = goodput(records, {"ttft": 500.0})
    assert result["requests"] == 3 and result["met"] == 2
    assert result["share"] == pytest.approx(2 / 3, abs=1e-4)
    assert result["window_s"] == 3.0 and result["rate_per_s"] == pytest.approx(2 / 3, abs=1e-3)
    assert result["missed_by"] == {"ttft": 1}
    assert result["turns_share"] == result["share"]


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 95) is None
    assert percentile([float(n) for n in range(1, 101)], 95) == 95.0
    assert percentile([7.0], 50) == 7.0


def test_the_phase_gate_holds_back_what_started_in_the_window() -> None:
    fired: list[dict[str, Any]] = []

    class Hook:
        def fire(self, **request: Any) -> None:
            fired.append(request)

    gate = PhaseGate(Hook(), warmup_s=10.0)
    assert gate.phase_at(5.0) == "measure"  # before the load starts nothing is warm-up
    gate.begin(now=1000.0)
    gate.begin(now=2000.0)  # once: a later test_start keeps the window
    gate.fire(start_time=1009.9, name="in the window")
    gate.fire(start_time=1010.0, name="after it")
    assert [r["name"] for r in fired] == ["after it"] and gate.held_back == 1
    assert gate.phase_at(1009.9) == "warmup" and gate.phase_at(1010.0) == "measure"


def point(load: float, share: float | None) -> dict[str, Any]:
    return {"load": load, "goodput_share": share}


def test_the_knee_is_the_last_load_at_target_before_the_first_below() -> None:
    sweep = Sweep("rates", (1, 2, 4, 8))
    found = knee(sweep, [point(1, 1.0), point(2, 0.995), point(4, 0.9), point(8, 1.0)])
    assert (found["load"], found["broken_at"]) == (2, 4)
    assert found["summary"] == "2 conversations/s at 99% goodput; at 4 goodput fell to 90.0%"
    top = knee(sweep, [point(n, 1.0) for n in (1, 2, 4, 8)])
    assert top["load"] == 8 and "above 8" in top["summary"]
    strict = knee(Sweep("rates", (1, 2), target=0.995), [point(1, 1.0), point(2, 0.99)])
    assert strict["summary"].startswith("1 conversations/s at 99.5% goodput;")
    none = knee(Sweep("users", (5, 10)), [point(5, None), point(10, 1.0)])
    assert none["load"] is None and "5 users" in none["summary"]


def test_the_share_interval_is_wilsons() -> None:
    assert share_interval(99, 100) == [0.9455, 0.9982]  # the textbook values
    assert share_interval(0, 10) == [0.0, 0.2775]
    assert share_interval(10, 10)[1] == 1.0
    assert share_interval(0, 0) is None
    # The docs-style server at 32 conversations/s, run twice: 99.3% once, 98.9% once.
    low, high = share_interval(3019, 3054)
    assert low < 0.989 < 0.99 < high


def test_a_knee_within_the_counting_noise_says_so() -> None:
    sweep = Sweep("rates", (16, 32))
    near = {**point(32, 0.9885), "goodput_share_ci95": share_interval(3019, 3054)}
    found = knee(sweep, [point(16, 1.0), near])
    assert found["load"] == 16  # the rule stays the share against the target
    assert "(95% CI 98.4%-99.2%: within the counting noise of 99%" in found["summary"]
    far = {**point(32, 0.9), "goodput_share_ci95": share_interval(2700, 3000)}
    assert "noise" not in knee(sweep, [point(16, 1.0), far])["summary"]


def test_a_sweep_names_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="at least two"):
        Sweep("rates", (1,))
    with pytest.raises(ValueError, match="positive and rising"):
        Sweep("rates", (2, 1))
    with pytest.raises(ValueError, match="whole numbers"):
        Sweep("users", (1, 2.5))
    with pytest.raises(ValueError, match="--goodput-target"):
        Sweep("rates", (1, 2), target=1.5)
    with pytest.raises(ValueError, match="--sweep-rates must be numbers"):
        parse_loads("1,two", "--sweep-rates")
