"""The comparison statistics call a difference only when the interval says so."""

from __future__ import annotations

import random

import pytest

from chatkit_pg.bench.statistics import (
    FASTER,
    SLOWER,
    TIE,
    TOO_FEW_ROUNDS,
    compare,
    median_interval,
    ratio_interval,
    rotation,
)


def _noisy(n: int, centre: float, noise: float, seed: int) -> list[float]:
    rng = random.Random(seed)
    return [centre * (1 + rng.gauss(0, noise)) for _ in range(n)]


def test_a_clear_gain_is_called_and_noise_is_a_tie() -> None:
    base = _noisy(30, 1.0, 0.05, 1)
    result = compare(
        {"base": base, "fast": [x * 0.8 for x in base], "same": _noisy(30, 1.0, 0.05, 2)},
        "base",
    )
    assert result["fast"]["call"] == FASTER
    assert result["same"]["call"] == TIE
    assert "call" not in result["base"]


def test_higher_is_better_flips_the_call() -> None:
    base = _noisy(20, 100.0, 0.02, 3)
    result = compare({"base": base, "more": [x * 1.2 for x in base]}, "base", lower_is_better=False)
    assert result["more"]["call"] == FASTER
    slower = compare({"base": base, "more": [x * 1.2 for x in base]}, "base")
    assert slower["more"]["call"] == SLOWER


def test_pairing_by_round_cancels_drift() -> None:
    """Both sides drift 3x over the run; the 5% gap is still called, with a tight ratio."""
    drift = [1 + 2 * r / 39 for r in range(40)]
    noise = _noisy(40, 1.0, 0.01, 4)
    base = [d * n for d, n in zip(drift, noise, strict=True)]
    candidate = [x * 0.95 for x in base]
    ratio = ratio_interval(candidate, base)
    assert ratio.high < 1.0 and ratio.high - ratio.low < 0.01
    # Unpaired medians alone overlap completely under such drift.
    a, b = median_interval(candidate), median_interval(base)
    assert a.high > b.low


def test_intervals_are_reproducible_and_contain_the_estimate() -> None:
    values = _noisy(25, 2.0, 0.1, 5)
    first, second = median_interval(values), median_interval(values)
    assert first == second
    assert first.low <= first.value <= first.high


def test_rotation_puts_every_name_in_every_position() -> None:
    names = ["a", "b", "c", "d"]
    orders = [rotation(names, r) for r in range(4)]
    assert orders[1] == ["b", "c", "d", "a"]
    for position in range(4):
        assert sorted(order[position] for order in orders) == names


def test_a_ratio_needs_paired_rounds() -> None:
    with pytest.raises(ValueError, match="same, non-zero number of rounds"):
        ratio_interval([1.0, 2.0], [1.0])


def test_too_few_rounds_make_no_call() -> None:
    base = [1.0, 1.01, 0.99]
    result = compare({"base": base, "fast": [x * 0.5 for x in base]}, "base")
    assert result["fast"]["call"] == TOO_FEW_ROUNDS


def test_a_real_but_small_difference_is_no_call() -> None:
    """3% faster with a tight interval stays a tie: below the 5% margin."""
    base = _noisy(40, 1.0, 0.005, 6)
    result = compare({"base": base, "close": [x * 0.97 for x in base]}, "base")
    ratio = result["close"]["ratio_to_baseline"]
    assert ratio["high"] < 1.0  # separated from 1 ...
    assert result["close"]["call"] == TIE  # ... but not by enough to act on
