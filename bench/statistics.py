"""Whether a difference is real: interleaved samples, bootstrap intervals, a three-way call.

Compared variants are measured in interleaved rounds (ABCD, BCDA, ... so drift hits every
variant alike); a round's median per variant is one sample. A median's 95% interval comes
from resampling rounds; a ratio's from resampling the *same* rounds for both sides (paired),
so what drifted between rounds cancels. A difference is called only when the ratio's interval
excludes 1 *and* clears a practical margin (:data:`MARGIN`); otherwise it is a tie ("no
measurable difference"). Interleaving removes drift within a run, not what differs between
runs (each run builds fresh database copies): two consecutive quick runs here put one layout's
reader p50 at 1.06x [1.01, 1.10] and then 1.02x [0.98, 1.06] of the shipped one. A call that
flips on such a wobble is no decision, so a difference must exceed 5% with 95% confidence.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Final

import numpy as np

from chatkit_pg.harness.results import RunFolder

BOOTSTRAP_SAMPLES: Final = 4_000
CONFIDENCE: Final = 0.95
SEED: Final = 20261128  # fixed: the same samples always give the same interval
MARGIN: Final = 0.05  # a call needs the whole interval beyond 1 +- MARGIN

FASTER: Final = "faster"
SLOWER: Final = "slower"
TIE: Final = "no measurable difference"
TOO_FEW_ROUNDS: Final = "too few rounds to tell"
# Below this many rounds a bootstrap interval is too coarse to call anything (the smoke
# profile's 3 rounds can put a 5% wobble outside a "95%" interval).
MIN_ROUNDS_FOR_A_CALL: Final = 10


@dataclass(frozen=True)
class Interval:
    """A point estimate with its bootstrap interval."""

    value: float
    low: float
    high: float

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 6) for k, v in asdict(self).items()}


def _percentiles(samples: np.ndarray) -> tuple[float, float]:
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(samples, [tail, 100 - tail])
    return float(low), float(high)


def _resampled_rounds(rounds: int) -> np.ndarray:
    rng = np.random.default_rng(SEED)
    return rng.integers(0, rounds, size=(BOOTSTRAP_SAMPLES, rounds))


def median_interval(round_medians: Sequence[float]) -> Interval:
    """Median of per-round medians, with its 95% bootstrap interval (rounds resampled)."""
    values = np.asarray(round_medians, dtype=float)
    if values.size == 0:
        raise ValueError("no rounds to summarise")
    boot = np.median(values[_resampled_rounds(values.size)], axis=1)
    return Interval(float(np.median(values)), *_percentiles(boot))


def ratio_interval(candidate: Sequence[float], baseline: Sequence[float]) -> Interval:
    """median(candidate) / median(baseline) over paired rounds, with its 95% interval.

    Below 1 the candidate is faster (for latencies). Rounds are resampled together for both
    sides, because round r of each was measured back to back.
    """
    a, b = np.asarray(candidate, dtype=float), np.asarray(baseline, dtype=float)
    if a.size != b.size or a.size == 0:
        raise ValueError("a ratio needs the same, non-zero number of rounds on both sides")
    picks = _resampled_rounds(a.size)
    boot = np.median(a[picks], axis=1) / np.median(b[picks], axis=1)
    return Interval(float(np.median(a) / np.median(b)), *_percentiles(boot))


def call(ratio: Interval, *, lower_is_better: bool = True) -> str:
    """``faster``/``slower`` only when the whole interval lies beyond 1 -+ :data:`MARGIN`."""
    if ratio.high < 1.0 - MARGIN:
        return FASTER if lower_is_better else SLOWER
    if ratio.low > 1.0 + MARGIN:
        return SLOWER if lower_is_better else FASTER
    return TIE


def rotation(names: Sequence[str], round_number: int) -> list[str]:
    """The order of round ``round_number``: ABCD, BCDA, CDAB, ... (each position equally)."""
    shift = round_number % len(names)
    return [*names[shift:], *names[:shift]]


def compare(
    samples: dict[str, list[float]], baseline: str, *, lower_is_better: bool = True
) -> dict[str, Any]:
    """Every variant's median and its ratio to ``baseline``, with intervals and the call."""
    base = samples[baseline]
    result: dict[str, Any] = {}
    for name, rounds in samples.items():
        entry: dict[str, Any] = {"median": median_interval(rounds).as_dict(), "rounds": rounds}
        if name != baseline:
            ratio = ratio_interval(rounds, base)
            entry["ratio_to_baseline"] = ratio.as_dict()
            entry["call"] = (
                call(ratio, lower_is_better=lower_is_better)
                if len(rounds) >= MIN_ROUNDS_FOR_A_CALL
                else TOO_FEW_ROUNDS
            )
        result[name] = entry
    return result


def write_comparison(
    results: RunFolder,
    name: str,
    section: dict[str, Any],
    conditions: dict[str, Any],
    profile: Any,
) -> None:
    """Add one comparison to ``bench/comparisons.json`` (each producer writes its section).

    A section is ``{"baseline": name, "groups": {group: compare(...)}, ...settings}``; the
    report reads it through ``reports/load.py``.
    """
    path = results.path / RunFolder.COMPARISONS_FILE
    document = json.loads(path.read_text()) if path.exists() else {}
    document.pop("conditions", None)
    document[name] = {**section, "bootstrap_samples": BOOTSTRAP_SAMPLES, "confidence": CONFIDENCE}
    results.write_json(
        RunFolder.COMPARISONS_FILE, document, {**conditions, "profile": profile.name}
    )
