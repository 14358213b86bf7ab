"""The issue's goals as ratios computed from one run: ``bench/summary.json``.

Inputs are this run's pytest-benchmark entries (``name``, ``stats``, ``extra_info``) and its
pgbench runs; the output is numbers only. Whether a goal is met is the report's call (the
targets are :data:`chatkit_pg.harness.vocabulary.SUMMARY_GOALS`, which :func:`format_table`
prints too); nothing here asserts on timings.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any, Final

from chatkit_pg.harness.vocabulary import (
    ADD_ITEM_COUNTER_SQL_LABEL,
    ADD_THREAD_ITEM,
    HOT_THREAD,
    ITEMS_PAGE,
    KEYSET,
    LIMIT,
    OFFSET,
    ORM_SKETCH,
    PGBENCH_COUNTER,
    RAW_ASYNCPG,
    SORT_KEY,
    STORE,
    summary_goal_text,
)
from chatkit_pg.strategies import DEFAULT_STRATEGY

PAGE_SIZE: Final = 20  # the page the python-layer comparison reads (the UI's first page)
PAGE_ORDER: Final = "desc"
COUNTERS: Final = ("duplicates", "failed_adds", "retries")


def _ops(entry: dict[str, Any]) -> float | None:
    extra = entry.get("extra_info") or {}
    value = extra.get("ops_per_s")
    if value is None:
        value = (entry.get("stats") or {}).get("ops")
    return float(value) if value else None


def _p50(entry: dict[str, Any]) -> float | None:
    extra = entry.get("extra_info") or {}
    value = extra.get("p50_ms")
    if value is None:
        median = (entry.get("stats") or {}).get("median")
        value = None if median is None else median * 1000.0
    return float(value) if value else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def _find(entries: Iterable[dict[str, Any]], **match: Any) -> dict[str, Any] | None:
    for entry in entries:
        extra = entry.get("extra_info") or {}
        if all(extra.get(k) == v for k, v in match.items()):
            return entry
    return None


def _python_layer(entries: list[dict[str, Any]]) -> dict[str, Any]:
    store = _find(entries, kind=LIMIT, method=STORE, query=ADD_THREAD_ITEM, concurrency=1)
    raw = _find(
        entries, kind=LIMIT, method=RAW_ASYNCPG, query=ADD_ITEM_COUNTER_SQL_LABEL, concurrency=1
    )
    orm = _find(entries, kind=LIMIT, method=ORM_SKETCH, concurrency=1)
    store_ops = _ops(store) if store else None
    raw_ops = _ops(raw) if raw else None
    orm_ops = _ops(orm) if orm else None
    page = {}
    for method in (KEYSET, RAW_ASYNCPG):
        hit = _find(
            entries, kind=ITEMS_PAGE, method=method, depth=0, page_size=PAGE_SIZE, order=PAGE_ORDER
        )
        page[method] = _p50(hit) if hit else None
    return {
        "store_ops_per_s": store_ops,
        "raw_asyncpg_same_sql_ops_per_s": raw_ops,
        "ratio": _ratio(store_ops, raw_ops),
        "orm_sketch_ops_per_s": orm_ops,
        "ratio_vs_orm": _ratio(store_ops, orm_ops),
        "store_page_p50_ms": page[KEYSET],
        "raw_asyncpg_page_p50_ms": page[RAW_ASYNCPG],
        "page_latency_store_over_raw": _ratio(page[KEYSET], page[RAW_ASYNCPG]),
    }


def _contention(entries: list[dict[str, Any]], pgbench: list[dict[str, Any]]) -> dict[str, Any]:
    store = {
        (entry.get("extra_info") or {}).get("concurrency"): _ops(entry)
        for entry in entries
        if (entry.get("extra_info") or {}).get("kind") == SORT_KEY
        and (entry.get("extra_info") or {}).get("strategy") == DEFAULT_STRATEGY
        and (entry.get("extra_info") or {}).get("scenario") == HOT_THREAD
    }
    counter = {r["clients"]: r["tps"] for r in pgbench if r.get("script") == PGBENCH_COUNTER}
    top = max((c for c in store if c), default=None)
    return {
        "strategy": DEFAULT_STRATEGY,
        "store_ops_per_s": {str(c): v for c, v in sorted(store.items()) if c},
        "pgbench_counter_tps": {str(c): v for c, v in sorted(counter.items())},
        "store_32_over_1": _ratio(store.get(32), store.get(1)),
        "pgbench_counter_32_over_1": _ratio(counter.get(32), counter.get(1)),
        "highest_concurrency": top,
    }


def _pagination(entries: list[dict[str, Any]]) -> dict[str, Any]:
    p50: dict[tuple[str, int, str], dict[int, float]] = defaultdict(dict)
    for entry in entries:
        extra = entry.get("extra_info") or {}
        if extra.get("kind") != ITEMS_PAGE or extra.get("depth") is None:
            continue
        value = _p50(entry)
        if value is not None:
            key = (str(extra["method"]), int(extra["page_size"]), str(extra["order"]))
            p50[key][int(extra["depth"])] = value
    deep_over_shallow: dict[str, float | None] = {}
    offset_over_keyset: dict[str, float | None] = {}
    raw_deep_over_shallow: dict[str, float | None] = {}
    deepest = max((d for by in p50.values() for d in by), default=None)
    for (method, size, order), by_depth in sorted(p50.items()):
        if method != KEYSET or deepest is None:
            continue
        label = f"{size}/{order}"
        deep_over_shallow[label] = _ratio(by_depth.get(deepest), by_depth.get(0))
        offset = p50.get((OFFSET, size, order), {}).get(deepest)
        offset_over_keyset[label] = _ratio(offset, by_depth.get(deepest))
        raw = p50.get((RAW_ASYNCPG, size, order), {})
        raw_deep_over_shallow[label] = _ratio(raw.get(deepest), raw.get(0))
    worst_flat = [v for v in deep_over_shallow.values() if v is not None]
    weakest_gap = [v for v in offset_over_keyset.values() if v is not None]
    return {
        "deepest": deepest,
        # The least favourable page size and order, so the headline never flatters.
        "keyset_deep_over_shallow": max(worst_flat) if worst_flat else None,
        "offset_deep_over_keyset_deep": min(weakest_gap) if weakest_gap else None,
        "keyset_deep_over_shallow_by_page": deep_over_shallow,
        "offset_deep_over_keyset_deep_by_page": offset_over_keyset,
        # The same statement without the store around it: the database's own flatness.
        "raw_asyncpg_deep_over_shallow_by_page": raw_deep_over_shallow,
    }


def _correctness(entries: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    totals: dict[str, dict[str, int]] = {}
    for entry in entries:
        extra = entry.get("extra_info") or {}
        if extra.get("kind") != SORT_KEY or not extra.get("strategy"):
            continue
        counts = totals.setdefault(str(extra["strategy"]), dict.fromkeys(COUNTERS, 0))
        for key in counts:
            counts[key] += int(extra.get(key) or 0)
    return dict(sorted(totals.items()))


def summarize(entries: list[dict[str, Any]], pgbench: list[dict[str, Any]]) -> dict[str, Any]:
    """The goals of the bench issue as ratios of this run's own measurements.

    Args:
        entries: pytest-benchmark's ``benchmarks[]`` (dicts with ``extra_info``/``stats``).
        pgbench: ``runs[]`` of bench/pgbench.json (may be empty).

    Returns:
        ``{"python_layer", "contention", "pagination", "correctness"}``; a ratio is ``None``
        when this run did not measure both of its sides.
    """
    return {
        "python_layer": _python_layer(entries),
        "contention": _contention(entries, pgbench),
        "pagination": _pagination(entries),
        "correctness": _correctness(entries),
    }


def format_table(summary: dict[str, Any]) -> str:
    """A short plain-text table of the headline numbers (what ``chatkit-pg bench`` prints)."""

    def num(value: Any, unit: str = "") -> str:
        if value is None:
            return "n/a"
        return f"{value:,.2f}{unit}" if isinstance(value, float) else f"{value}{unit}"

    def goal(group: str, key: str) -> str:
        return summary_goal_text(summary, (group, key))

    py, con, pag = summary["python_layer"], summary["contention"], summary["pagination"]
    rows = [
        ("store add_thread_item, 1 client", num(py["store_ops_per_s"], " ops/s"), ""),
        ("raw asyncpg, same SQL", num(py["raw_asyncpg_same_sql_ops_per_s"], " ops/s"), ""),
        ("  store / raw asyncpg", num(py["ratio"], "x"), goal("python_layer", "ratio")),
        ("ORM sketch (get+add+commit)", num(py["orm_sketch_ops_per_s"], " ops/s"), ""),
        (
            "  store / ORM sketch",
            num(py["ratio_vs_orm"], "x"),
            goal("python_layer", "ratio_vs_orm"),
        ),
        ("page store / raw asyncpg (p50)", num(py["page_latency_store_over_raw"], "x"), ""),
        (
            "hot thread store 32w / 1w",
            num(con["store_32_over_1"], "x"),
            goal("contention", "store_32_over_1"),
        ),
        ("hot thread pgbench 32c / 1c", num(con["pgbench_counter_32_over_1"], "x"), ""),
        (
            f"keyset depth {num(pag['deepest'])} / depth 0",
            num(pag["keyset_deep_over_shallow"], "x"),
            goal("pagination", "keyset_deep_over_shallow"),
        ),
        (
            "OFFSET / keyset at that depth",
            num(pag["offset_deep_over_keyset_deep"], "x"),
            goal("pagination", "offset_deep_over_keyset_deep"),
        ),
    ]
    for strategy, counts in summary["correctness"].items():
        rows.append(
            (
                f"{strategy}: duplicates / failed adds",
                f"{counts['duplicates']} / {counts['failed_adds']}",
                f"retries {counts['retries']}",
            )
        )
    width = max(len(r[0]) for r in rows)
    value_width = max(len(r[1]) for r in rows)
    return "\n".join(f"{a:<{width}}  {b:>{value_width}}  {c}".rstrip() for a, b, c in rows)
