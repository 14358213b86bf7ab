"""Assemble the report: load → verdict → tables (+ baseline) → figures → sections → files."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from chatkit_pg.harness.results import RunFolder
from chatkit_pg.harness.vocabulary import capacity_sentence

from . import figures, tables
from .compare import DEFAULT_THRESHOLD, with_baseline
from .document import Document, Figure, Note, Paragraph, Regression, Section, Table
from .load import ReportInputError, Results, load_results
from .render import to_html, to_markdown
from .verdict import (
    IndexVerdict,
    StrategyVerdict,
    choose_index_variant,
    choose_strategy,
    index_rule_text,
    strategy_rule_text,
)

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_THRESHOLD", "BuiltReport", "all_tables", "build", "build_report"]

# Stages in the order their profile speaks for the run (``chatkit-pg run`` names it first).
STAGE_ORDER: Final = ("run", "bench", "races", "loadtest")


@dataclass
class BuiltReport:
    """What :func:`build` wrote, and what it found worth telling."""

    html: Path
    markdown: Path
    figures: list[Path]
    regressions: list[Regression] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def build_report(
    results_dir: Path, baseline: Path | None = None, threshold: float = DEFAULT_THRESHOLD
) -> Path:
    """Build the report of ``results_dir`` and return the path of its ``report.html``.

    Args:
        results_dir: a results folder (:class:`~chatkit_pg.harness.results.RunFolder`); the
            report is written into it.
        baseline: another results folder to compare against, or ``None``.
        threshold: relative change beyond which a worse value is flagged (0.10 = 10%).
    """
    return build(results_dir, baseline, threshold).html


def build(
    results_dir: Path, baseline: Path | None = None, threshold: float = DEFAULT_THRESHOLD
) -> BuiltReport:
    """Like :func:`build_report`, returning everything written and found.

    Raises:
        FileNotFoundError: a folder does not exist.
        chatkit_pg.reports.load.ReportInputError: a result file is malformed (its path is in
            the message).
        ValueError: ``threshold`` is not a fraction between 0 and 10.
    """
    if not 0 <= threshold <= 10:
        raise ValueError(f"threshold must be a fraction such as 0.1 (10%), got {threshold}")
    folder = Path(results_dir)
    results = load_results(folder)
    if is_empty(results):
        raise ReportInputError(
            f"{folder} holds no results: none of {RunFolder.CONDITIONS_FILE}, "
            f"{RunFolder.BENCHMARK_FILE}, {RunFolder.RACE_MATRIX_FILE}, "
            f"{RunFolder.LOADTEST_DIR}/ or Locust's *_stats.csv"
        )
    sv, iv = choose_strategy(results), choose_index_variant(results)
    by_id = all_tables(results, sv, iv)
    regressions: list[Regression] = []
    if baseline is not None:
        base = load_results(Path(baseline))
        base_tables = all_tables(base, choose_strategy(base), choose_index_variant(base))
        for table_id, table in list(by_id.items()):
            by_id[table_id], found = with_baseline(table, base_tables.get(table_id), threshold)
            regressions.extend(found)

    figure_dir = folder / RunFolder.FIGURES_DIR
    for stale in figure_dir.glob("*.png"):  # ours: a rebuild must not keep old figures
        stale.unlink()
    title = "chatkit-pg: which sort-key strategy and index layout, and what it costs under load"
    if is_loadtest_only(results):
        # Only what was measured: no strategy/index verdict, no sections of absent stages.
        sections = [_load_section(results, by_id), _conditions_section(results, by_id)]
        title = f"Load test of {_target(results)}"
    else:
        sections = [
            _verdict_section(results, sv, iv, by_id),
            _strategy_section(results, sv, by_id),
            _pagination_section(results, by_id),
            _index_section(results, iv, by_id),
            _limit_section(results, by_id),
            _load_section(results, by_id),
            _conditions_section(results, by_id),
        ]
    doc = Document(
        title=title,
        subtitle=_subtitle(results),
        sections=sections,
        regressions=regressions,
        baseline=str(baseline) if baseline is not None else None,
        threshold=threshold,
    )
    markdown = folder / RunFolder.REPORT_MD_FILE
    markdown.write_text(to_markdown(doc), encoding="utf-8")
    html = folder / RunFolder.REPORT_HTML_FILE
    html.write_text(to_html(doc, folder), encoding="utf-8")
    written = [folder / b.path for s in sections for b in s.blocks if isinstance(b, Figure)]
    missing = results.missing
    if is_loadtest_only(results):  # the bench and races were not run: nothing was skipped
        missing = [m for m in missing if m.startswith(RunFolder.LOADTEST_DIR)]
    return BuiltReport(
        html=html,
        markdown=markdown,
        figures=written,
        regressions=regressions,
        missing=missing,
    )


def is_empty(results: Results) -> bool:
    """Nothing a report could show."""
    return results.conditions is None and not _measured_stages(results)


def _measured_stages(results: Results) -> list[str]:
    stages = []
    if results.benchmarks or results.summary or results.pgbench or results.strategies:
        stages.append("bench")
    if results.races:
        stages.append("races")
    if results.loadtest is not None:
        stages.append("loadtest")
    return stages


def is_loadtest_only(results: Results) -> bool:
    """The folder holds a load test and nothing of the bench or the races."""
    return _measured_stages(results) == ["loadtest"]


def _target(results: Results) -> str:
    lt = results.loadtest
    run = (lt.run if lt else None) or {}
    if run.get("host"):
        return str(run["host"])
    stage = ((results.conditions or {}).get("stages") or {}).get("loadtest") or {}
    if stage.get("host"):
        return str(stage["host"])
    return "our server on PostgresStore" if run else "a ChatKit server (Locust's files only)"


def _shape_text(results: Results) -> str | None:
    lt = results.loadtest
    run = (lt.run if lt else None) or {}
    settings = run.get("settings") or {}
    if not settings:
        return None
    users, rate, time = settings.get("users"), settings.get("spawn_rate"), settings.get("run_time")
    tags = settings.get("tags") or []
    parts = [f"{users} users", f"spawned at {rate}/s", f"for {time}"]
    ramp = settings.get("capacity")
    if isinstance(ramp, dict):
        parts = [
            f"capacity ramp from {ramp.get('start_users')} to {ramp.get('max_users')} users, "
            f"{ramp.get('step_users')} more every {ramp.get('step_duration')} s",
            f"spawned at {ramp.get('spawn_rate')}/s",
            "until a step breaks the SLO",
        ]
    if tags:
        parts.append(f"tags {', '.join(tags)}")
    return "Shape: " + ", ".join(parts) + "."


def all_tables(results: Results, sv: StrategyVerdict, iv: IndexVerdict) -> dict[str, Table]:
    """Every table of the report by id (built the same way for a baseline)."""
    lt = results.loadtest
    built = [
        tables.verdict_table(sv, iv),
        tables.strategy_ranking_table(sv),
        tables.strategy_catalog_table(results),
        tables.strategy_cells_table(results),
        tables.race_matrix_table(results),
        tables.pagination_table(results),
        tables.index_summary_table(iv),
        tables.variant_definitions_table(results),
        tables.index_read_table(iv),
        tables.index_comparison_table(iv),
        tables.sizes_table(results),
        tables.plans_table(results),
        tables.summary_goals_table(results),
        tables.floors_table(results),
        tables.limit_paths_table(results),
        tables.load_requests_table(lt) if lt else None,
        tables.load_timings_table(lt) if lt else None,
        tables.load_sse_table(lt) if lt else None,
        tables.load_failures_table(lt) if lt else None,
        tables.integrity_table(lt) if lt else None,
        tables.capacity_table(lt) if lt else None,
        tables.key_value_table(
            "load_settings",
            "Load-test settings",
            {k: v for k, v in lt.run.items() if k != "conditions"} if lt and lt.run else None,
        ),
        tables.key_value_table("conditions", "Conditions", results.conditions),
    ]
    return {t.id: t for t in built if t is not None}


def _missing_note(results: Results, *parts: str) -> Note | None:
    absent = [p for p in parts if p in results.missing]
    if not absent:
        return None
    return Note(f"Not in this results folder: {', '.join(absent)}; that part is skipped.")


def _subtitle(results: Results) -> str:
    c = results.conditions or {}
    pg = c.get("postgres") or {}
    bits = [f"results `{results.folder}`"]
    if c.get("recorded_at"):
        bits.append(f"recorded {c['recorded_at']}")
    if c.get("commit"):
        bits.append(f"commit `{c['commit']}`")
    if pg.get("server_version"):
        bits.append(f"PostgreSQL {pg['server_version']}")
    machine = c.get("machine") or {}
    if machine.get("cpu_count"):
        bits.append(f"{machine['cpu_count']} CPUs")
    profiles = stage_profiles(c)
    if len(set(profiles.values())) == 1:
        bits.append(f"profile {next(iter(profiles.values()))}")
    elif profiles:
        bits.append("profiles " + ", ".join(f"{s} {p}" for s, p in profiles.items()))
    return " · ".join(bits)


def stage_profiles(conditions: dict[str, Any]) -> dict[str, str]:
    """``{stage: profile}`` of the stages in ``conditions.json`` that name one."""
    stages = conditions.get("stages")
    if not isinstance(stages, dict):
        return {}
    order = [s for s in STAGE_ORDER if s in stages] + sorted(set(stages) - set(STAGE_ORDER))
    return {
        stage: str(stages[stage]["profile"])
        for stage in order
        if isinstance(stages[stage], dict) and stages[stage].get("profile")
    }


def _verdict_section(
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
    if results.loadtest is not None and results.loadtest.capacity is not None:
        section.add(Paragraph(f"Load test, {capacity_sentence(results.loadtest.capacity)}."))
    section.add(by_id.get("verdict"))
    section.add(
        Paragraph(strategy_rule_text(sv.reason is not None)),
        Paragraph(index_rule_text(iv.reason is not None)),
    )
    for score in sv.scores:
        if score.race_free and score.excluded and score.excluded.startswith("measured"):
            section.add(Note(f"{score.name} claims to be race-free but {score.excluded}."))
    section.add(_missing_note(results, RunFolder.BENCHMARK_FILE, RunFolder.RACE_MATRIX_FILE))
    if results.strategies is None:
        section.add(
            Note(
                f"Not in this results folder: {RunFolder.STRATEGIES_FILE}; the strategies' "
                "guarantees are unknown, so none can be recommended."
            )
        )
    return section


def _strategy_section(results: Results, sv: StrategyVerdict, by_id: dict[str, Table]) -> Section:
    section = Section("strategies", "Sort-key strategies")
    section.add(
        Paragraph(
            "add_thread_item throughput and p95 latency as concurrent writers grow, with every "
            "writer on one hot thread and spread over many threads; the correctness counters "
            "of the same runs beside them."
        ),
        figures.strategy_throughput(results, results.folder),
        figures.strategy_p95(results, results.folder),
        figures.strategy_correctness(
            results, {s.name: s.counters for s in sv.scores}, results.folder
        ),
        by_id.get("strategy_ranking"),
        by_id.get("strategy_catalog"),
        by_id.get("strategy_cells"),
        by_id.get("race_matrix"),
        _missing_note(
            results,
            RunFolder.BENCHMARK_FILE,
            RunFolder.RACE_MATRIX_FILE,
            RunFolder.STRATEGIES_FILE,
        ),
    )
    return section


def _pagination_section(results: Results, by_id: dict[str, Table]) -> Section:
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
        figures.pagination(results, results.folder),
        by_id.get("pagination"),
        _missing_note(results, RunFolder.BENCHMARK_FILE),
    )
    return section


def _index_section(results: Results, iv: IndexVerdict, by_id: dict[str, Table]) -> Section:
    section = Section("indexes", "Index strategies")
    section.add(
        Paragraph(index_rule_text(iv.reason is not None)),
        by_id.get("index_comparison"),
        by_id.get("index_summary"),
        figures.index_reads(iv, results.folder),
        figures.index_costs(iv, results.folder),
        by_id.get("index_reads"),
        by_id.get("plans"),
        by_id.get("sizes"),
        by_id.get("variant_definitions"),
        _upgrade_paragraph(results.upgrade),
        _missing_note(
            results,
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


def _limit_section(results: Results, by_id: dict[str, Table]) -> Section:
    section = Section("limit", "Against the limit")
    section.add(
        Paragraph(
            "What our Python layers cost: the store's inserts beside raw asyncpg running the same "
            "SQL and pgbench driving the database directly, in the same run on the same database."
        ),
        figures.limit_paths(results, results.folder),
        figures.limit_contention(results, results.folder),
        by_id.get("floor_ratios"),
        by_id.get("limit_ratios"),
        by_id.get("limit_paths"),
        _missing_note(
            results, RunFolder.SUMMARY_FILE, RunFolder.PGBENCH_FILE, RunFolder.BENCHMARK_FILE
        ),
    )
    return section


def _load_section(results: Results, by_id: dict[str, Table]) -> Section:
    section = Section("loadtest", "Load test")
    lt = results.loadtest
    if lt is None:
        section.add(_missing_note(results, RunFolder.LOADTEST_DIR + "/"))
        return section
    section.add(Paragraph(f"Target: {_target(results)}."))
    shape = _shape_text(results)
    if shape:
        section.add(Paragraph(shape))
    if lt.capacity is not None:
        section.add(
            Paragraph(f"**{capacity_sentence(lt.capacity)}**."),
            figures.capacity_steps(lt, results.folder),
            by_id.get("capacity"),
        )
    integrity = lt.integrity
    if integrity is not None:
        verdict = "passed" if integrity.get("passed") else "**FAILED**"
        section.add(Paragraph(f"Integrity check against the database after the run: {verdict}."))
    if lt.verify is not None:
        verdict = "passed" if lt.verify.get("passed") else "**FAILED**"
        checks = lt.verify.get("checks", [])
        details = "; ".join(f"{c.get('name')}: {c.get('detail')}" for c in checks)
        section.add(
            Paragraph(f"Re-read over HTTP after the run (--verify): {verdict} ({details}).")
        )
    failures = by_id.get("load_failures")
    failure_figure = figures.load_failures(lt, results.folder)
    section.add(
        figures.load_over_time(lt, results.folder),
        figures.load_percentiles(lt, results.folder),
        by_id.get("load_timings"),
        by_id.get("load_requests"),
        figures.ttfe_distribution(lt, results.folder),
        by_id.get("load_sse"),
    )
    if failures is not None and failure_figure is None:
        section.add(Paragraph("No request failed."))
    section.add(failure_figure, failures if failure_figure else None, by_id.get("integrity"))
    if lt.exceptions:
        section.add(Note(f"Locust recorded {len(lt.exceptions)} exception(s) in the users' code."))
    section.add(by_id.get("load_settings"))
    if lt.html_report:
        section.add(Paragraph(f"Locust's own report: `{lt.html_report}` (beside this file)."))
    if not lt.remote:
        section.add(
            _missing_note(
                results,
                *(p for p in results.missing if p.startswith(RunFolder.LOADTEST_DIR)),
                RunFolder.INTEGRITY_FILE,
            )
        )
    return section


def _conditions_section(results: Results, by_id: dict[str, Table]) -> Section:
    section = Section("conditions", "Conditions")
    section.add(
        Paragraph("Where and with what these numbers were measured (passwords masked)."),
        by_id.get("conditions"),
        _missing_note(results, RunFolder.CONDITIONS_FILE),
    )
    machine = (results.bench_machine or {}).get("machine_info") or {}
    cpu = machine.get("cpu") or {}
    if machine:
        section.add(
            Paragraph(
                f"pytest-benchmark machine: {machine.get('node', '?')}, "
                f"{cpu.get('brand_raw', machine.get('processor', '?'))}, "
                f"{machine.get('python_implementation', 'Python')} "
                f"{machine.get('python_version', '')}."
            )
        )
    return section
