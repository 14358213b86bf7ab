"""Assemble the report: load → verdict → tables (+ baseline) → figures → sections → files.

The sections are built in :mod:`.sections_bench` and :mod:`.sections_load`, the tables in
:mod:`.tables`; this module decides which sections a folder gets and writes the files.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from chatkit_pg.harness.results import RunFolder

from .compare import DEFAULT_THRESHOLD, with_baseline
from .document import Document, Figure, Regression
from .load import ReportInputError, Results, load_results
from .render import to_html, to_markdown
from .sections_bench import (
    index_section,
    limit_section,
    pagination_section,
    strategy_section,
    verdict_section,
)
from .sections_load import conditions_section, load_section, target
from .tables import all_tables
from .verdict import choose_index_variant, choose_strategy

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
        sections = [load_section(results, by_id), conditions_section(results, by_id)]
        title = f"Load test of {target(results)}"
    else:
        sections = [
            verdict_section(results, sv, iv, by_id),
            strategy_section(results, sv, by_id),
            pagination_section(results, by_id),
            index_section(results, iv, by_id),
            limit_section(results, by_id),
            load_section(results, by_id),
            conditions_section(results, by_id),
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
