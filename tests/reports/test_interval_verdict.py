"""The verdict calls a layout or strategy better only when the 95% intervals say so."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chatkit_pg.harness.vocabulary import INDEX_WRITE, STORE
from chatkit_pg.reports.load import Benchmark, Results, StrategyRecord, VariantRecord
from chatkit_pg.reports.verdict import (
    WRITE_COST,
    choose_index_variant,
    choose_strategy,
)

TIE = "no measurable difference"


def _entry(value: float, low: float, high: float, call: str | None) -> dict[str, Any]:
    entry: dict[str, Any] = {"median": {"value": 1.0, "low": 0.9, "high": 1.1}}
    if call is not None:
        entry["ratio_to_baseline"] = {"value": value, "low": low, "high": high}
        entry["call"] = call
    return entry


def _results(reads: dict[str, dict[str, dict[str, Any]]], writes: dict[str, float]) -> Results:
    results = Results(folder=Path("."))
    results.shipped_variant = "recommended"
    results.comparisons = {"index_reads": {"baseline": "recommended", "groups": reads}}
    results.benchmarks = [
        Benchmark(
            name=f"write {variant}",
            group=None,
            stats={},
            extra={"kind": INDEX_WRITE, "method": STORE, "variant": variant, "ops_per_s": ops},
        )
        for variant, ops in writes.items()
    ]
    return results


def test_ties_everywhere_keep_the_shipped_layout_and_say_why() -> None:
    reads = {
        "items_page_first": {
            "recommended": _entry(1, 1, 1, None),
            "covering": _entry(0.98, 0.95, 1.02, TIE),
        }
    }
    verdict = choose_index_variant(_results(reads, {"recommended": 100, "covering": 100}))
    assert verdict.chosen is not None and verdict.chosen.variant == "recommended"
    assert verdict.reason is not None
    assert "stays" in verdict.reason and "covering: no measurable difference" in verdict.reason


def test_a_separated_gain_that_costs_little_replaces_the_shipped_layout() -> None:
    reads = {
        "items_page_deep": {
            "recommended": _entry(1, 1, 1, None),
            "covering": _entry(0.8, 0.75, 0.85, "faster"),
            "sketch": _entry(0.7, 0.6, 0.8, "faster"),
        },
        "load_item": {
            "recommended": _entry(1, 1, 1, None),
            "covering": _entry(1.0, 0.97, 1.03, TIE),
            "sketch": _entry(1.3, 1.2, 1.4, "slower"),
        },
    }
    verdict = choose_index_variant(
        _results(reads, {"recommended": 100, "covering": 95, "sketch": 120})
    )
    assert verdict.chosen is not None and verdict.chosen.variant == "covering"
    assert "items_page_deep 0.80x [0.75, 0.85]" in (verdict.reason or "")


def test_a_read_gain_that_costs_too_many_writes_does_not_ship() -> None:
    reads = {
        "items_page_first": {
            "recommended": _entry(1, 1, 1, None),
            "covering": _entry(0.8, 0.75, 0.85, "faster"),
        }
    }
    slower_writes = 100 * (1 - WRITE_COST) - 5
    verdict = choose_index_variant(_results(reads, {"recommended": 100, "covering": slower_writes}))
    assert verdict.chosen is not None and verdict.chosen.variant == "recommended"
    assert "writes are 15% slower" in (verdict.reason or "")


def test_a_strategy_replaces_the_default_only_when_measurably_faster() -> None:
    guarantees = {"race_free": True, "gapless": True, "commit_order": True, "retries": False}
    results = Results(folder=Path("."))
    results.strategies = {
        name: StrategyRecord(name, "", dict(guarantees)) for name in ("counter", "advisory")
    }
    results.default_strategy = "counter"
    for call, expected in ((TIE, "counter"), ("faster", "advisory")):
        results.comparisons = {
            "strategies": {
                "baseline": "counter",
                "groups": {
                    "hot_thread c32": {
                        "counter": _entry(1, 1, 1, None),
                        "advisory": _entry(1.2, 1.1, 1.3, call),
                    }
                },
            }
        }
        verdict = choose_strategy(results)
        assert verdict.chosen is not None and verdict.chosen.name == expected, call
        assert verdict.reason is not None


def test_a_layout_without_the_sort_key_constraint_never_ships() -> None:
    reads = {
        "items_page_first": {
            "recommended": _entry(1, 1, 1, None),
            "sketch": _entry(0.5, 0.45, 0.55, "faster"),
        }
    }
    results = _results(reads, {"recommended": 100, "sketch": 150})
    results.variants = {
        name: VariantRecord(name, "", (), unique)
        for name, unique in (("recommended", True), ("sketch", False))
    }
    verdict = choose_index_variant(results)
    assert verdict.chosen is not None and verdict.chosen.variant == "recommended"
    assert "sketch: drops UNIQUE (thread_id, sort_key)" in (verdict.reason or "")


def test_slower_appends_beside_readers_keep_the_shipped_layout() -> None:
    reads = {
        "items_page_first": {
            "recommended": _entry(1, 1, 1, None),
            "covering": _entry(0.8, 0.75, 0.85, "faster"),
        }
    }
    results = _results(reads, {"recommended": 100, "covering": 100})
    assert results.comparisons is not None
    results.comparisons["mixed"] = {
        "baseline": "recommended",
        "groups": {
            "appends/s beside readers": {
                "recommended": _entry(1, 1, 1, None),
                "covering": _entry(0.7, 0.6, 0.8, "slower"),
            }
        },
    }
    verdict = choose_index_variant(results)
    assert verdict.chosen is not None and verdict.chosen.variant == "recommended"
    assert "covering: slower on appends/s beside readers" in (verdict.reason or "")
