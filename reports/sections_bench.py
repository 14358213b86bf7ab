"""The sections of what the bench and the races measured: the verdict, the sort-key
strategies, pagination, the index layouts and the insert paths against the limit."""

from __future__ import annotations

from typing import Any

from chatkit_pg.harness.results import RunFolder

from . import figures_index, figures_limit, figures_pagination, figures_strategy
from .document import Note, Paragraph, Section, Table, missing_note
from .load import Results
from .sections_load import capacity_derived_note, sweep_sentence
from .verdict import IndexVerdict, StrategyVerdict, index_rule_text, strategy_rule_text


def verdict_section(
    results: Results, sv: StrategyVerdict, iv: IndexVerdict, by_id: dict[str, Table]
) -> Section:
    section = Section("verdict", "Verdict")
    s, i = sv.chosen, iv.chosen
    if s is not None and i is not None:
        section.add(
            Paragraph(
                f"For the measured workload use the **{s.name}** sort-key strategy with the "
                f"**{i.variant}** index layout."
            )
        )
    section.add(*(Paragraph(reason) for reason in (sv.reason, iv.reason) if reason))
    lt = results.loadtest
    if lt is not None and lt.capacity_summary is not None:
        section.add(Paragraph(f"Load test, {lt.capacity_summary}."), capacity_derived_note(lt))
    if lt is not None and lt.sweep is not None:
        section.add(Paragraph(f"Capacity sweep: {sweep_sentence(lt.sweep)}."))
    section.add(by_id.get("verdict"))
    section.add(
        Paragraph(strategy_rule_text(sv.reason is not None)),
        Paragraph(index_rule_text(iv.reason is not None)),
    )
    for score in sv.scores:
        if score.race_free and score.excluded and score.excluded.startswith("measured"):
            section.add(Note(f"{score.name} claims to be race-free but {score.excluded}."))
    section.add(missing_note(results.missing, RunFolder.BENCHMARK_FILE, RunFolder.RACE_MATRIX_FILE))
    if results.strategies is None:
        section.add(
            Note(
                f"Not in this results folder: {RunFolder.STRATEGIES_FILE}; the strategies' "
                "guarantees are unknown, so none can be recommended."
            )
        )
    return section


def strategy_section(results: Results, sv: StrategyVerdict, by_id: dict[str, Table]) -> Section:
    section = Section("strategies", "Sort-key strategies")
    section.add(
        Paragraph(
            "add_thread_item throughput and p95 latency as concurrent writers grow, with every "
            "writer on one hot thread and spread over many threads; the correctness counters "
            "of the same runs beside them."
        ),
        figures_strategy.strategy_throughput(results, results.folder),
        figures_strategy.strategy_p95(results, results.folder),
        figures_strategy.strategy_correctness(
            results, {s.name: s.counters for s in sv.scores}, results.folder
        ),
        by_id.get("strategy_ranking"),
        by_id.get("strategy_catalog"),
        by_id.get("strategy_cells"),
        by_id.get("race_matrix"),
        missing_note(
            results.missing,
            RunFolder.BENCHMARK_FILE,
            RunFolder.RACE_MATRIX_FILE,
            RunFolder.STRATEGIES_FILE,
        ),
    )
    return section


def pagination_section(results: Results, by_id: dict[str, Table]) -> Section:
    section = Section("pagination", "Pagination")
    ratios = (results.summary or {}).get("pagination") or {}
    if ratios:
        bits = []
        if ratios.get("keyset_deep_over_shallow") is not None:
            bits.append(
                f"keyset at the deepest depth takes {ratios['keyset_deep_over_shallow']:.2f}x "
                "its depth-0 time"
            )
        if ratios.get("offset_deep_over_keyset_deep") is not None:
            bits.append(
                f"OFFSET there takes {ratios['offset_deep_over_keyset_deep']:.1f}x keyset's"
            )
        sentence = "; ".join(bits)
        section.add(Paragraph(sentence[:1].upper() + sentence[1:] + "."))
    section.add(
        figures_pagination.pagination(results, results.folder),
        by_id.get("pagination"),
        missing_note(results.missing, RunFolder.BENCHMARK_FILE),
    )
    return section


def index_section(results: Results, iv: IndexVerdict, by_id: dict[str, Table]) -> Section:
    section = Section("indexes", "Index strategies")
    section.add(
        Paragraph(index_rule_text(iv.reason is not None)),
        by_id.get("index_comparison"),
        by_id.get("index_summary"),
        figures_index.index_reads(iv, results.folder),
        figures_index.index_costs(iv, results.folder),
        by_id.get("index_reads"),
        by_id.get("plans"),
        by_id.get("sizes"),
        by_id.get("variant_definitions"),
        _upgrade_paragraph(results.upgrade),
        missing_note(
            results.missing,
            RunFolder.BENCHMARK_FILE,
            RunFolder.SIZES_FILE,
            RunFolder.PLANS_DIR + "/",
            RunFolder.VARIANTS_FILE,
        ),
    )
    return section


def _upgrade_paragraph(upgrade: dict[str, Any] | None) -> Paragraph | None:
    """What migrating the seeded data to the shipped layout cost writers (bench/upgrade.json)."""
    if upgrade is None:
        return None
    holds = upgrade.get("lock_holds") or []
    attempts = max((hold.get("attempt", 1) for hold in holds), default=0)
    failures = len(upgrade.get("append_failures") or [])
    return Paragraph(
        f"Upgrading the seeded data ({upgrade.get('items_before', 0):,} items) from "
        f"{upgrade.get('from_revision')} to {upgrade.get('to_revision')} while "
        f"{upgrade.get('writers')} writers appended took {upgrade.get('upgrade_seconds')} s. "
        f"Longest write-blocking lock: {upgrade.get('longest_lock_ms')} ms "
        f"({len(holds)} locking transaction(s), {attempts} attempt(s)). Appends during the "
        f"upgrade: {upgrade.get('appends_during_upgrade')}, {failures} failed; their median "
        f"{upgrade.get('median_append_ms')} ms (before it: "
        f"{upgrade.get('median_append_ms_before')} ms), "
        f"longest {upgrade.get('longest_append_ms')} ms."
    )


def limit_section(results: Results, by_id: dict[str, Table]) -> Section:
    section = Section("limit", "Against the limit")
    section.add(
        Paragraph(
            "What our Python layers cost: the store's inserts beside raw asyncpg running the same "
            "SQL and pgbench driving the database directly, in the same run on the same database."
        ),
        figures_limit.limit_paths(results, results.folder),
        figures_limit.limit_contention(results, results.folder),
        by_id.get("floor_ratios"),
        by_id.get("limit_ratios"),
        by_id.get("limit_paths"),
        missing_note(
            results.missing,
            RunFolder.SUMMARY_FILE,
            RunFolder.PGBENCH_FILE,
            RunFolder.BENCHMARK_FILE,
        ),
    )
    return section
