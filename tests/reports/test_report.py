"""The report builds from saved results only: figures, HTML, verdict, baseline, bad input."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from matplotlib import image as mpimg

from chatkit_pg.cli.main import main as chatkit_pg_main
from chatkit_pg.harness.results import RunFolder
from chatkit_pg.harness.vocabulary import (
    CONNECTION_ERROR,
    EARLY_END,
    OTHER_FAILURE,
    THREADS_PAGE_DEEP,
    THREADS_PAGE_FIRST,
    TIMEOUT,
)
from chatkit_pg.reports import ReportInputError, build_report
from chatkit_pg.reports.build import BuiltReport, build
from chatkit_pg.reports.load import load_results
from chatkit_pg.reports.tables import failure_kind, failures_by_kind
from chatkit_pg.reports.verdict import choose_index_variant, choose_strategy

from .make_fixtures import PASSWORD

EXPECTED_FIGURES = {
    "strategy_throughput",
    "strategy_p95",
    "strategy_correctness",
    "pagination",
    "index_reads",
    "index_costs",
    "limit_paths",
    "limit_contention",
    "load_over_time",
    "load_percentiles",
    "ttfe_distribution",
    "load_failures",
    "capacity",
}
SECTIONS = ("verdict", "strategies", "pagination", "indexes", "limit", "loadtest", "conditions")


def distinct_colours(png: Path) -> int:
    rgb = (mpimg.imread(png)[..., :3] * 255).astype(np.uint32)
    return len(np.unique(rgb[..., 0] << 16 | rgb[..., 1] << 8 | rgb[..., 2]))


def test_every_figure_is_produced_and_not_empty(built_a: BuiltReport) -> None:
    assert {p.stem for p in built_a.figures} == EXPECTED_FIGURES
    for png in built_a.figures:
        assert png.stat().st_size > 10_000, png
        # A real chart has lines, text and fills: many colours, not a blank canvas.
        assert distinct_colours(png) > 50, png


def test_html_is_self_contained_and_embeds_every_figure(built_a: BuiltReport) -> None:
    page = built_a.html.read_text()
    sources = re.findall(r'src="([^"]*)"', page)
    assert len(sources) == len(EXPECTED_FIGURES)
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    embedded = {base64.b64decode(s.split(",", 1)[1]) for s in sources}
    assert embedded == {png.read_bytes() for png in built_a.figures}
    assert not re.search(r"<(script|link|iframe)\b", page)
    assert "http://" not in page.replace("http://127.0.0.1", "")  # only the masked load target
    for section in SECTIONS:
        assert f'<section id="{section}"' in page


def test_markdown_links_the_written_figures(built_a: BuiltReport) -> None:
    text = built_a.markdown.read_text()
    linked = re.findall(r"!\[[^]]*\]\((figures/[^)]+\.png)\)", text)
    assert {Path(p).stem for p in linked} == EXPECTED_FIGURES
    assert all((built_a.markdown.parent / p).is_file() for p in linked)
    assert text.index("## Verdict") < text.index("## Sort-key strategies")


def test_verdict_names_strategy_and_variant_with_numbers(built_a: BuiltReport) -> None:
    text = built_a.markdown.read_text()
    assert "use the **counter** sort-key strategy with the **recommended** index layout" in text
    verdict = text[text.index("## Verdict") : text.index("## Sort-key strategies")]
    assert "ops/s geometric mean" in verdict and "0 duplicates, 0 failed adds" in verdict
    assert "sequence (keys not in commit order" in verdict  # faster, but excluded, and said so


def test_passwords_are_masked_everywhere(built_a: BuiltReport) -> None:
    for path in (built_a.markdown, built_a.html):
        text = path.read_text()
        assert PASSWORD not in text, path
        assert "postgresql://bench:***@127.0.0.1:5432/chatkit_bench" in text
        assert "Bearer load-test-user" not in text  # auth_token masked by its name


def edit_json(path: Path, change: Callable[[dict], object]) -> None:
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


def test_strategy_choice_reads_the_guarantees_the_run_recorded(run_a: Path) -> None:
    assert choose_strategy(load_results(run_a)).chosen.name == "counter"
    # Had the run recorded that sequence keeps commit order, it would be the fastest eligible
    # one: the verdict judges by the run's strategies.json, never by today's code.
    edit_json(
        run_a / RunFolder.STRATEGIES_FILE,
        lambda d: d["strategies"]["sequence"]["guarantees"].update(commit_order=True),
    )
    assert choose_strategy(load_results(run_a)).chosen.name == "sequence"


def test_without_strategies_json_the_guarantees_are_unknown(
    remove: Callable[[str], Path],
) -> None:
    folder = remove(RunFolder.STRATEGIES_FILE)
    verdict = choose_strategy(load_results(folder))
    assert verdict.chosen is None
    assert all(s.race_free is None and "guarantees unknown" in s.excluded for s in verdict.scores)
    report = build(folder)
    text = report.markdown.read_text()
    assert f"Not in this results folder: {RunFolder.STRATEGIES_FILE}" in text
    assert f"guarantees unknown (no {RunFolder.STRATEGIES_FILE} in the results)" in text
    assert "no race-free, commit-ordered strategy measured" in text
    assert {"strategy_throughput", "strategy_p95"} <= {p.stem for p in report.figures}


def test_variant_definitions_come_from_the_run(run_a: Path) -> None:
    edit_json(
        run_a / RunFolder.VARIANTS_FILE,
        lambda d: d["variants"]["pk_only"].update(description="as measured back then"),
    )
    scores = {s.variant: s for s in choose_index_variant(load_results(run_a)).scores}
    assert scores["recommended"].sort_key_unique is True
    assert scores["pk_only"].sort_key_unique is False
    text = build(run_a).markdown.read_text()
    assert "as measured back then" in text
    (run_a / RunFolder.VARIANTS_FILE).unlink()
    assert choose_index_variant(load_results(run_a)).scores[0].sort_key_unique is None
    assert (
        f"Not in this results folder: {RunFolder.VARIANTS_FILE}"
        in build(run_a).markdown.read_text()
    )


def test_strategy_that_measured_duplicates_is_not_recommended(run_a: Path) -> None:
    path = run_a / "races/race_matrix.json"
    document = json.loads(path.read_text())
    for row in document["rows"]:
        if row["strategy"] == "counter" and row["concurrency"] == 64:
            row["duplicates"] = 3
    path.write_text(json.dumps(document))
    verdict = choose_strategy(load_results(run_a))
    counter = next(s for s in verdict.scores if s.name == "counter")
    assert counter.excluded is not None and "duplicates" in counter.excluded
    chosen = verdict.chosen
    assert chosen is not None and chosen.name != "counter"
    assert load_results(run_a).guarantee(chosen.name, "commit_order")


def test_index_rule_prefers_fast_reads_then_writes(remove: Callable[[str], Path]) -> None:
    """Without interleaved comparisons (an older run), the median rule decides."""
    verdict = choose_index_variant(load_results(remove(RunFolder.COMPARISONS_FILE)))
    by_name = {s.variant: s for s in verdict.scores}
    # pk_only writes fastest but its thread pages are a Seq Scan + Sort: not eligible.
    assert not by_name["pk_only"].eligible
    assert sorted(by_name["pk_only"].seq_scans) == sorted([THREADS_PAGE_FIRST, THREADS_PAGE_DEEP])
    # plain_keys reads fastest, recommended is within tolerance and writes more.
    assert by_name["plain_keys"].eligible and by_name["recommended"].eligible
    assert verdict.chosen is by_name["recommended"]


def test_interleaved_comparison_decides_with_its_intervals(run_a: Path) -> None:
    """run_a's comparisons: plain_keys's small gains are inside the noise, pk_only is slower."""
    verdict = choose_index_variant(load_results(run_a))
    assert verdict.shipped == "recommended" and verdict.chosen is not None
    assert verdict.chosen.variant == "recommended"
    reason = verdict.reason or ""
    assert "The shipped layout (recommended) stays" in reason
    assert "pk_only: drops UNIQUE (thread_id, sort_key)" in reason
    by_name = {s.variant: s for s in verdict.scores}
    assert set(by_name["plain_keys"].calls.values()) <= {"no measurable difference", "faster"}
    assert "slower" in by_name["sketch"].calls.values() or "sketch:" in reason
    text = build(run_a).markdown.read_text()
    assert "Relative to the shipped layout (recommended), interleaved rounds" in text


@pytest.mark.parametrize(
    ("part", "note"),
    [
        ("bench", "bench/benchmark.json"),
        ("loadtest", "loadtest/"),
        ("loadtest/locust_stats_history.csv", "loadtest/locust_stats_history.csv"),
    ],
)
def test_missing_part_is_noted_not_fatal(
    remove: Callable[[str], Path], part: str, note: str
) -> None:
    report = build(remove(part))
    text = report.markdown.read_text()
    assert f"Not in this results folder: {note}" in text or (
        "Not in this results folder:" in text and note in text
    )
    assert report.html.is_file()
    if part == "loadtest/locust_stats_history.csv":
        assert "load_over_time" not in {p.stem for p in report.figures}
        assert "load_percentiles" in {p.stem for p in report.figures}


def test_empty_folder_is_an_error_not_an_empty_report(tmp_path: Path) -> None:
    with pytest.raises(ReportInputError, match="holds no results"):
        build(tmp_path)
    assert not (tmp_path / "report.md").exists()


def test_folder_with_only_conditions_builds_a_report_of_notes(run_a: Path, tmp_path: Path) -> None:
    shutil.copy(run_a / "conditions.json", tmp_path / "conditions.json")
    report = build(tmp_path)
    text = report.markdown.read_text()
    assert "races/race_matrix.json" in text
    assert "no race-free, commit-ordered strategy measured" in text


@pytest.mark.parametrize(
    ("relative", "content", "message"),
    [
        ("bench/benchmark.json", '{"benchmarks": [ {"name": "x"', "not valid JSON"),
        ("bench/benchmark.json", '{"benchmarks": {}}', "'benchmarks' must be a list"),
        ("races/race_matrix.json", '{"rows": [1, 2]}', "rows[0] must be an object"),
        ("bench/plans/sketch/load_item.json", "[]", "expected a JSON object"),
        ("strategies.json", '{"strategies": []}', "'strategies' must be an object"),
        ("bench/variants.json", '{"variants": {"x": {"ddl": "DROP"}}}', "must be a list"),
        ("loadtest/locust_stats.csv", "a,b\n1,2\n", "missing column(s) Type, Name"),
    ],
)
def test_malformed_file_raises_an_error_naming_it(
    run_a: Path, relative: str, content: str, message: str
) -> None:
    (run_a / relative).write_text(content)
    with pytest.raises(ReportInputError) as caught:
        build_report(run_a)
    assert str(run_a / relative) in str(caught.value)
    assert message in str(caught.value)


def test_baseline_flags_exactly_the_planted_regressions(run_a: Path, run_b: Path) -> None:
    report = build(run_a, baseline=run_b)
    flagged = {(r.row, r.column) for r in report.regressions}
    assert ("counter / hot_thread / 32", "Throughput (ops/s)") in flagged
    assert ("recommended", "items_page_deep") in flagged
    # Everything else moved by at most a few percent: nothing but the planted spots and
    # numbers derived from them (latency at the same point, the 32/1 ratio) may be flagged.
    for row, column in flagged:
        assert "counter" in row or row == "recommended" or "32 writers" in row, (row, column)
    page = report.html.read_text()
    assert f'<div class="alert"><b>{len(report.regressions)} regression(s)</b>' in page
    assert page.count('class="num reg"') == len(report.regressions)
    text = report.markdown.read_text()
    assert text.index("regression(s)") < text.index("## Verdict")


def test_baseline_direction_and_threshold(run_a: Path, run_b: Path) -> None:
    assert build(run_a, baseline=run_b, threshold=0.5).regressions == []
    # Swapped, the planted spots are improvements: nothing regresses.
    assert build(run_b, baseline=run_a).regressions == []


def test_python_m_reports_prints_where_the_report_is(run_a: Path, run_b: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "chatkit_pg.reports", str(run_a), "--baseline", str(run_b)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"report: {run_a / 'report.html'}" in done.stdout
    assert "REGRESSION" in done.stdout


def test_chatkit_pg_report_command(run_a: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert chatkit_pg_main(["report", str(run_a)]) == 0
    assert f"report: {run_a / 'report.html'}" in capsys.readouterr().out
    (run_a / "bench/sizes.json").write_text("{not json")
    assert chatkit_pg_main(["report", str(run_a)]) == 2
    assert str(run_a / "bench/sizes.json") in capsys.readouterr().err


def test_subtitle_reads_the_profile_of_each_stage(built_a: BuiltReport) -> None:
    subtitle = built_a.markdown.read_text().splitlines()[2]
    assert "profile quick" in subtitle and "commit `4f1c2ab9d0e3`" in subtitle


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        ("CatchResponseError('connection_error: no HTTP response')", CONNECTION_ERROR),
        ("CatchResponseError('connection_error: ReadTimeout while connecting')", CONNECTION_ERROR),
        ("CatchResponseError('timeout: no event within 10.0 s')", TIMEOUT),
        ("CatchResponseError('early_end: connection closed mid-stream (timeout: x)')", EARLY_END),
        ("RemoteDisconnected('Remote end closed connection without response')", OTHER_FAILURE),
    ],
)
def test_failure_kind_is_the_first_kind_the_message_names(error: str, kind: str) -> None:
    assert failure_kind({"Method": "POST", "Name": "threads.list", "Error": error}) == kind


def test_connection_errors_are_counted_as_such(run_a: Path, built_a: BuiltReport) -> None:
    counts = failures_by_kind(load_results(run_a).loadtest)
    assert counts[CONNECTION_ERROR] == 1 and OTHER_FAILURE not in counts
    assert f"| {CONNECTION_ERROR} | POST threads.list | 1 |" in built_a.markdown.read_text()


# A report is rebuilt on machines with matplotlib only: this prelude makes chatkit, the
# database driver, SQLAlchemy and pydantic impossible to import before the body runs.
BLOCKED = ("chatkit", "asyncpg", "sqlalchemy", "pydantic")
WITHOUT_STORE_DEPENDENCIES = textwrap.dedent(
    f"""
    import sys
    from importlib.abc import MetaPathFinder

    BLOCKED = {BLOCKED!r}
    assert not [m for m in sys.modules if m.split(".")[0] in BLOCKED], "imported at start-up"


    class NotInstalled(MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"no module named {{name!r}} (blocked by the test)")
            return None


    sys.meta_path.insert(0, NotInstalled())
    """
)
BUILD_REPORT = """
from chatkit_pg.reports.cli import main

status = main(sys.argv[1:])
leaked = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
sys.exit(f"imported {leaked}" if leaked else status)
"""


def python_without_store_dependencies(body: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_STORE_DEPENDENCIES + body, *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_report_builds_without_chatkit_sqlalchemy_or_drivers(run_a: Path, run_b: Path) -> None:
    done = python_without_store_dependencies(BUILD_REPORT, str(run_a), "--baseline", str(run_b))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"report: {run_a / RunFolder.REPORT_HTML_FILE}" in done.stdout
    assert "figures: 13 in" in done.stdout
    # The prelude does block: the store itself cannot be imported under it.
    refused = python_without_store_dependencies("from chatkit_pg import PostgresStore\n")
    assert refused.returncode != 0 and "blocked by the test" in refused.stderr
