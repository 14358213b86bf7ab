"""The recommendation: which sort-key strategy and which index variant, and why.

Rules (stated in the report too):

* **Strategy**: eligible are the strategies whose guarantees, as the run recorded them in
  ``strategies.json``, say ``race_free`` and ``commit_order`` *and* that measured zero
  duplicates and zero failed adds in this run (bench, race matrix and summary counters
  together); a strategy whose guarantees the run did not record is not eligible. The
  fastest eligible one wins, "fastest" being the geometric mean of ops/s over every
  (scenario, concurrency) cell that all eligible strategies measured, as pgbench summarises
  its variations.
* **Index variant**, when the run has interleaved comparisons (``bench/comparisons.json``):
  the shipped layout stays unless a variant is *measurably* faster than it on at least one
  read (the 95% interval of the read's ratio lies wholly below 1 - 5%) and measurably slower
  on none (the margin is bench/statistics.py's, where the calls are made), and
  its ``add_thread_item`` throughput is at most :data:`WRITE_COST` below the shipped
  layout's; among several, the largest read gain (geometric mean of the ratios) wins, ties by
  index size. A difference the intervals do not separate is "no measurable difference".
  Without comparisons (older runs) the median rule applies: a variant is eligible when the
  geometric mean of its per-query p50 latency is within :data:`READ_TOLERANCE` of the best;
  among those the highest ``add_thread_item`` throughput wins, and when writes are within
  :data:`WRITE_TIE` of each other the smaller index size does. Each variant's definition
  (description, whether ``UNIQUE (thread_id, sort_key)`` is kept) comes from the run's
  ``bench/variants.json``.
* **Strategy** with comparisons: an eligible strategy replaces the default only when it is
  measurably faster on the interleaved hot-thread rounds; otherwise the default stays.

Nothing here imports the store: an old baseline is judged by what it recorded.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from chatkit_pg.harness.vocabulary import HOT_THREAD, INDEX_READ, INDEX_WRITE, SORT_KEY, STORE

from .load import Results

READ_TOLERANCE: Final = 0.20
WRITE_TIE: Final = 0.05
WRITE_COST: Final = 0.10  # how much write throughput a read gain may cost
FASTER: Final = "faster"  # the calls bench/statistics.py writes
SLOWER: Final = "slower"
COUNTERS: Final = ("duplicates", "failed_adds", "retries")


def geometric_mean(values: Iterable[float]) -> float | None:
    """Geometric mean of the positive values, ``None`` when there are none."""
    logs = [math.log(v) for v in values if v and v > 0]
    return math.exp(sum(logs) / len(logs)) if logs else None


@dataclass
class StrategyScore:
    name: str
    race_free: bool | None  # None: the run did not record this strategy's guarantees
    commit_order: bool | None
    unknown: str | None = None  # why the guarantees are unknown; None when recorded
    ops: dict[tuple[str, int], float] = field(default_factory=dict)  # (scenario, conc) -> ops/s
    p95_ms: dict[tuple[str, int], float] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))
    geo_mean_ops: float | None = None
    excluded: str | None = None  # why it cannot be recommended; None when eligible

    @property
    def hot_max(self) -> tuple[int, float, float | None] | None:
        """(concurrency, ops/s, p95 ms) on the hot thread at the highest concurrency measured."""
        hot = [(c, v) for (s, c), v in self.ops.items() if s == HOT_THREAD]
        if not hot:
            return None
        conc, ops = max(hot)
        return conc, ops, self.p95_ms.get((HOT_THREAD, conc))


@dataclass
class StrategyVerdict:
    chosen: StrategyScore | None
    scores: list[StrategyScore]
    cells: list[tuple[str, int]]  # the cells the geometric mean covers
    reason: str | None = None  # why, when the interleaved comparison decided


@dataclass
class IndexScore:
    variant: str
    read_ms: dict[str, float] = field(default_factory=dict)  # query -> p50 ms
    read_geo_ms: float | None = None
    write_ops: float | None = None
    index_bytes: int | None = None
    table_bytes: int | None = None
    seq_scans: list[str] = field(default_factory=list)  # queries whose plan has a Seq Scan
    eligible: bool = False
    description: str | None = None  # from bench/variants.json; None when not recorded
    sort_key_unique: bool | None = None
    calls: dict[str, str] = field(default_factory=dict)  # read -> faster/slower/tie vs shipped
    ratios: dict[str, dict[str, float]] = field(default_factory=dict)  # read -> ratio interval


@dataclass
class IndexVerdict:
    chosen: IndexScore | None
    scores: list[IndexScore]
    queries: list[str]
    best_read_ms: float | None
    shipped: str | None = None
    reason: str | None = None  # why, when the interleaved comparison decided


def choose_strategy(results: Results) -> StrategyVerdict:
    """Score every strategy measured in ``results`` and pick the recommended one."""
    scores: dict[str, StrategyScore] = {}

    def score(name: str) -> StrategyScore:
        if name not in scores:
            scores[name] = StrategyScore(
                name=name,
                race_free=results.guarantee(name, "race_free"),
                commit_order=results.guarantee(name, "commit_order"),
                unknown=results.unknown_guarantees(name),
            )
        return scores[name]

    for b in results.of_kind(SORT_KEY):
        name = b.get("strategy")
        if not name or b.get("method") not in (None, STORE):
            continue
        s = score(str(name))
        cell = (str(b.get("scenario") or HOT_THREAD), int(b.get("concurrency") or 1))
        if b.ops_per_s is not None:
            s.ops[cell] = b.ops_per_s
        p95 = b.latency_ms(95)
        if p95 is not None:
            s.p95_ms[cell] = p95
        _add_counters(s, b.extra)
    for row in results.races or ():
        if row.get("strategy"):
            _add_counters(score(str(row["strategy"])), row)
    correctness = (results.summary or {}).get("correctness") or {}
    for name, counters in correctness.items():
        s = score(str(name))
        if isinstance(counters, dict):
            # The summary restates the bench's counters: keep the larger, never add twice.
            for key in COUNTERS:
                value = counters.get(key)
                if isinstance(value, int | float):
                    s.counters[key] = max(s.counters[key], int(value))

    section = (results.comparisons or {}).get("strategies")
    compared = {str(name) for group in (section or {}).get("groups", {}).values() for name in group}
    for name in compared:
        score(name)
    for s in scores.values():
        s.excluded = _exclusion(s)
    eligible = [s for s in scores.values() if s.excluded is None and s.ops]
    cells = sorted(set.intersection(*(set(s.ops) for s in eligible))) if eligible else []
    for s in scores.values():
        measured = cells or sorted(s.ops)
        s.geo_mean_ops = geometric_mean(s.ops[c] for c in measured if c in s.ops)
    for s in scores.values():
        if s.excluded is None and not s.ops and s.name not in compared:
            s.excluded = "no throughput measured"
    eligible.sort(key=lambda s: s.geo_mean_ops or 0.0, reverse=True)
    ordered = sorted(
        scores.values(),
        key=lambda s: (s.excluded is not None, -(s.geo_mean_ops or 0.0), s.name),
    )
    verdict = StrategyVerdict(chosen=eligible[0] if eligible else None, scores=ordered, cells=cells)
    if section is not None:
        _decide_strategy_by_intervals(verdict, section)
    return verdict


def _decide_strategy_by_intervals(verdict: StrategyVerdict, section: dict[str, Any]) -> None:
    baseline = str(section["baseline"])
    by_name = {s.name: s for s in verdict.scores}
    for group, contenders in section["groups"].items():
        faster = [
            (name, entry["median"]["value"])
            for name, entry in contenders.items()
            if entry.get("call") == FASTER and by_name.get(name) and not by_name[name].excluded
        ]
        if faster:
            winner = max(faster, key=lambda pair: pair[1])[0]
            ratio = contenders[winner]["ratio_to_baseline"]
            verdict.chosen = by_name[winner]
            verdict.reason = (
                f"{winner} is measurably faster than {baseline} ({group}: "
                f"{_interval_text(ratio)} its throughput)."
            )
        elif baseline in by_name and not by_name[baseline].excluded:
            verdict.chosen = by_name[baseline]
            verdict.reason = (
                f"{baseline} stays: no eligible strategy is measurably faster ({group}, "
                "interleaved rounds, 95% intervals)."
            )
        return  # one group: the hot thread at the profile's most writers


def _interval_text(ratio: dict[str, float]) -> str:
    return f"{ratio['value']:.2f}x [{ratio['low']:.2f}, {ratio['high']:.2f}]"


def _add_counters(s: StrategyScore, source: dict[str, object]) -> None:
    for key in COUNTERS:
        value = source.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            s.counters[key] += int(value)


def _exclusion(s: StrategyScore) -> str | None:
    if s.unknown is not None or s.race_free is None:
        return s.unknown or "race-freedom not recorded"
    if not s.race_free:
        return "not race-free by design"
    if not s.commit_order:
        return "keys not in commit order (a paging reader can skip a late commit)"
    broken = [f"{s.counters[k]:,} {k.replace('_', ' ')}" for k in ("duplicates", "failed_adds")]
    if s.counters["duplicates"] or s.counters["failed_adds"]:
        return "measured " + " and ".join(broken) + " despite its guarantee"
    return None


def choose_index_variant(results: Results) -> IndexVerdict:
    """Score every index variant measured in ``results`` and pick the recommended one."""
    scores: dict[str, IndexScore] = {}
    for b in results.of_kind(INDEX_READ):
        variant, query = b.get("variant"), b.get("query")
        latency = b.latency_ms(50)
        if variant and query and latency is not None:
            scores.setdefault(variant, IndexScore(variant)).read_ms[str(query)] = latency
    for b in results.of_kind(INDEX_WRITE):
        if b.get("variant") and b.ops_per_s is not None:
            scores.setdefault(
                b.get("variant"), IndexScore(b.get("variant"))
            ).write_ops = b.ops_per_s
    for variant in scores:
        scores[variant] = _with_definition(scores[variant], results)
    for variant, tables in (results.sizes or {}).items():
        if variant in scores and isinstance(tables, dict):
            s = scores[variant]
            s.index_bytes = sum(int(t.get("index_bytes") or 0) for t in tables.values())
            s.table_bytes = sum(int(t.get("table_bytes") or 0) for t in tables.values())
    for plan in results.plans or ():
        planned = scores.get(plan.get("variant", ""))
        if planned is not None and "Seq Scan" in (plan.get("node_types") or ()):
            planned.seq_scans.append(str(plan.get("query")))

    per_variant = [set(s.read_ms) for s in scores.values() if s.read_ms]
    queries = sorted(set.intersection(*per_variant)) if per_variant else []
    for s in scores.values():
        s.read_geo_ms = geometric_mean(s.read_ms[q] for q in queries if q in s.read_ms)
    reads = [s.read_geo_ms for s in scores.values() if s.read_geo_ms is not None]
    best = min(reads) if reads else None
    candidates = [
        s
        for s in scores.values()
        if best is not None
        and s.read_geo_ms is not None
        and s.read_geo_ms <= best * (1 + READ_TOLERANCE)
    ]
    for s in candidates:
        s.eligible = True
    chosen = _best_writer(candidates)
    ordered = sorted(scores.values(), key=lambda s: (s.read_geo_ms is None, s.read_geo_ms or 0))
    verdict = IndexVerdict(chosen=chosen, scores=ordered, queries=queries, best_read_ms=best)
    section = (results.comparisons or {}).get("index_reads")
    if section is not None:
        _decide_index_by_intervals(verdict, section, results)
    return verdict


def _decide_index_by_intervals(
    verdict: IndexVerdict, section: dict[str, Any], results: Results
) -> None:
    baseline = results.shipped_variant or str(section["baseline"])
    by_name = {s.variant: s for s in verdict.scores}
    groups = dict(section["groups"])
    # The mixed workload (appends beside paging readers) counts like a read: a layout that
    # is measurably slower there, for readers or writers, does not ship.
    groups.update((results.comparisons or {}).get("mixed", {}).get("groups", {}))
    for query, contenders in groups.items():
        for name, entry in contenders.items():
            if name not in by_name:  # compared, but not in the per-variant benchmarks
                by_name[name] = _index_score(name, results)
            score = by_name[name]
            if name != baseline and "call" in entry:
                score.calls[query] = entry["call"]
                score.ratios[query] = entry["ratio_to_baseline"]
    verdict.scores = list(by_name.values())
    verdict.shipped = baseline
    base = by_name.get(baseline)
    why_not: list[str] = []
    winners: list[IndexScore] = []
    for score in verdict.scores:
        score.eligible = False
        if score.variant == baseline or not score.calls:
            continue
        gains = [q for q, call in score.calls.items() if call == FASTER]
        losses = [q for q, call in score.calls.items() if call == SLOWER]
        if score.sort_key_unique is False:
            why_not.append(
                f"{score.variant}: drops UNIQUE (thread_id, sort_key), the constraint that "
                "backs every strategy's keys"
            )
        elif losses:
            why_not.append(f"{score.variant}: slower on {', '.join(losses)}")
        elif not gains:
            why_not.append(f"{score.variant}: no measurable difference on any read")
        elif base is None or not base.write_ops or score.write_ops is None:
            why_not.append(
                f"{score.variant}: faster on {', '.join(gains)}, but its write cost is unmeasured"
            )
        elif _write_cost(score, base) > WRITE_COST:
            why_not.append(
                f"{score.variant}: faster on {', '.join(gains)} but its writes are "
                f"{_write_cost(score, base):.0%} slower (more than {WRITE_COST:.0%})"
            )
        else:
            winners.append(score)
    if base is not None:
        base.eligible = True
    if winners:
        for score in winners:
            score.eligible = True
        best = min(
            winners,
            key=lambda s: (
                geometric_mean(r["value"] for r in s.ratios.values()) or math.inf,
                s.index_bytes if s.index_bytes is not None else math.inf,
            ),
        )
        gained = ", ".join(
            f"{q} {_interval_text(best.ratios[q])}"
            for q, call in best.calls.items()
            if call == FASTER
        )
        verdict.chosen = best
        verdict.reason = (
            f"{best.variant} replaces the shipped {baseline}: measurably faster on {gained}, "
            "slower on no read, writes within the allowed cost."
        )
        return
    verdict.chosen = base
    verdict.reason = (
        f"The shipped layout ({baseline}) stays: "
        + ("; ".join(why_not) if why_not else "no other variant was compared")
        + "."
    )


def _index_score(variant: str, results: Results) -> IndexScore:
    return _with_definition(IndexScore(variant), results)


def _with_definition(score: IndexScore, results: Results) -> IndexScore:
    """``score`` with the variant's description and uniqueness as the run recorded them."""
    record = (results.variants or {}).get(score.variant)
    if record is not None:
        score.description, score.sort_key_unique = record.description, record.sort_key_unique
    return score


def _write_cost(score: IndexScore, base: IndexScore) -> float:
    """How much lower ``score``'s write throughput is than the shipped layout's (0 = same)."""
    if not base.write_ops or score.write_ops is None:
        return math.inf  # unknown costs too much
    return max(0.0, 1 - score.write_ops / base.write_ops)


def _best_writer(candidates: list[IndexScore]) -> IndexScore | None:
    if not candidates:
        return None
    top = max((s.write_ops or 0.0) for s in candidates)
    tied = [s for s in candidates if (s.write_ops or 0.0) >= top * (1 - WRITE_TIE)]
    return min(
        tied,
        key=lambda s: (
            s.index_bytes if s.index_bytes is not None else math.inf,
            -(s.write_ops or 0.0),
            s.read_geo_ms or math.inf,
        ),
    )


def index_rule_text(interleaved: bool = False) -> str:
    """The index rule in one sentence, for the report."""
    if interleaved:
        return (
            "Rule: the shipped layout stays unless a variant is measurably faster on at least "
            "one read in interleaved rounds (the 95% interval of its ratio to the shipped "
            "layout wholly below 0.95: gains under 5% are within run-to-run drift), "
            "measurably slower on none (the mixed workload's readers and "
            "appends included), keeps UNIQUE (thread_id, sort_key), and costs writes at most "
            f"{WRITE_COST:.0%}; a difference the intervals do not separate is no measurable "
            "difference."
        )
    return (
        f"Rule: reads dominate a chat workload, so a variant qualifies when the geometric mean "
        f"of its per-query p50 read latency is within {READ_TOLERANCE:.0%} of the best; among "
        f"those the highest add_thread_item throughput wins, and writes within "
        f"{WRITE_TIE:.0%} of each other are decided by the smaller total index size."
    )


def strategy_rule_text(interleaved: bool = False) -> str:
    """The strategy rule in one sentence, for the report."""
    if interleaved:
        return (
            "Rule: only strategies whose recorded guarantees are race-free and commit-ordered, "
            "and that measured zero duplicates and zero failed adds, qualify; one replaces "
            "the default only when the interleaved hot-thread rounds show it measurably faster "
            "(the 95% interval of its throughput ratio wholly above 1.05)."
        )
    return (
        "Rule: only strategies whose guarantees, as this run recorded them (strategies.json), "
        "are race-free and keep commit order, and that measured zero duplicates and zero "
        "failed adds, qualify; the fastest by geometric mean of ops/s over the shared "
        "scenario x concurrency cells wins."
    )


def cells_text(cells: list[tuple[str, int]]) -> str:
    by_scenario: dict[str, list[int]] = defaultdict(list)
    for scenario, conc in cells:
        by_scenario[scenario].append(conc)
    return "; ".join(
        f"{scenario.replace('_', ' ')} at {', '.join(map(str, sorted(c)))}"
        for scenario, c in sorted(by_scenario.items())
    )
