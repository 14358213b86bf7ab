"""The fixtures say only what the producers write, and the goals are written once.

The checked-in fixture folders are made by the producers' own code (``make_fixtures.py``);
these tests keep them honest against the bench modules as they are today: every name a
fixture benchmark carries is one its bench module spells, and ``bench/summary.json`` is
what :func:`~chatkit_pg.bench.summary.summarize` makes of the fixture's own entries.
"""

from __future__ import annotations

import ast
import importlib
import json
from pathlib import Path
from typing import Any

import pytest

import chatkit_pg.bench
from chatkit_pg.bench.measure import EXTRA_KEYS
from chatkit_pg.bench.summary import format_table, summarize
from chatkit_pg.bench.variants import VARIANTS
from chatkit_pg.harness import vocabulary
from chatkit_pg.harness.results import RunFolder
from chatkit_pg.harness.vocabulary import (
    INDEX_READ,
    INDEX_READ_QUERIES,
    LIMIT,
    LIMIT_PATHS,
    SUMMARY_GOALS,
    summary_goal_text,
)
from chatkit_pg.strategies import STRATEGIES

from .conftest import FIXTURES

BENCH = Path(chatkit_pg.bench.__file__).resolve().parent
RUNS = ("run_a", "run_b")


def benchmarks(run: str) -> list[dict[str, Any]]:
    return json.loads((FIXTURES / run / RunFolder.BENCHMARK_FILE).read_text())["benchmarks"]


def module_tree(module: str) -> ast.Module:
    return ast.parse((BENCH / f"{module}.py").read_text())


def resolve(node: ast.expr) -> Any:
    """A string literal, or the value of the vocabulary constant the bench names."""
    if isinstance(node, ast.Constant):
        return node.value
    name = node.id if isinstance(node, ast.Name) else getattr(node, "attr", None)
    return getattr(vocabulary, name, None) if name else None


def spelled(module: str) -> set[str]:
    """Every name a bench module spells: its string literals and the vocabulary it uses."""
    names: set[str] = set()

    def add(value: Any) -> None:
        if isinstance(value, str):
            names.add(value)
        elif isinstance(value, tuple | list):
            for inner in value:
                add(inner)
        elif isinstance(value, dict):
            for inner in value.values():
                add(inner)

    tree = module_tree(module)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant | ast.Name | ast.Attribute):
            add(resolve(node))
        # A name the module imports from a sibling (``from .reads import ORDER``) counts too.
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            sibling = vars(importlib.import_module(f"chatkit_pg.bench.{node.module}"))
            for alias in node.names:
                add(sibling.get(alias.name))
    return names


@pytest.mark.parametrize("run", RUNS)
def test_fixture_benchmarks_carry_only_names_the_bench_writes(run: str) -> None:
    for entry in benchmarks(run):
        module, test = entry["fullname"].removeprefix("bench/").split(".py::")
        functions = {
            n.name for n in ast.walk(module_tree(module)) if isinstance(n, ast.FunctionDef)
        }
        assert test.split("[")[0] in functions, entry["fullname"]
        info = entry["extra_info"]
        assert set(EXTRA_KEYS) <= set(info), entry["name"]
        words = spelled(module)
        for key in ("kind", "method", "query", "scenario", "order"):
            assert info[key] is None or info[key] in words, (entry["name"], key, info[key])
        assert info["strategy"] is None or info["strategy"] in STRATEGIES
        assert info["variant"] is None or info["variant"] in VARIANTS


def test_vocabulary_names_the_reads_the_index_bench_times() -> None:
    reads = next(
        n
        for n in ast.walk(module_tree("reads"))
        if isinstance(n, ast.FunctionDef) and n.name == "index_reads"
    )
    returned = next(n.value for n in ast.walk(reads) if isinstance(n, ast.Return))
    assert isinstance(returned, ast.Dict)
    assert [resolve(k) for k in returned.keys if k is not None] == list(INDEX_READ_QUERIES)
    fixture = [e["extra_info"] for e in benchmarks("run_a")]
    assert {i["query"] for i in fixture if i["kind"] == INDEX_READ} == set(INDEX_READ_QUERIES)


def test_vocabulary_names_the_insert_paths_the_limit_bench_runs() -> None:
    builder = next(
        n
        for n in ast.walk(module_tree("bench_limits"))
        if isinstance(n, ast.FunctionDef) and n.name == "insert_paths"
    )
    returned = next(n.value for n in ast.walk(builder) if isinstance(n, ast.Return))
    assert isinstance(returned, ast.Dict)
    paths = [tuple(resolve(e) for e in k.elts) for k in returned.keys if isinstance(k, ast.Tuple)]
    assert paths == list(LIMIT_PATHS)  # the bench parametrizes over LIMIT_PATHS itself
    fixture = [e["extra_info"] for e in benchmarks("run_a")]
    runs = [(i["method"], i["query"]) for i in fixture if i["kind"] == LIMIT]
    assert set(LIMIT_PATHS) <= set(runs)


@pytest.mark.parametrize("run", RUNS)
def test_fixture_summary_is_what_the_bench_summarizes(run: str) -> None:
    folder = FIXTURES / run
    pgbench = json.loads((folder / RunFolder.PGBENCH_FILE).read_text())["runs"]
    stored = json.loads((folder / RunFolder.SUMMARY_FILE).read_text())
    stored.pop("conditions")
    assert json.loads(json.dumps(summarize(benchmarks(run), pgbench))) == stored


def test_format_table_prints_the_goals_of_the_vocabulary(monkeypatch: pytest.MonkeyPatch) -> None:
    summary = json.loads((FIXTURES / "run_a" / RunFolder.SUMMARY_FILE).read_text())
    table = format_table(summary)
    goals = [p for p, (op, _, _) in SUMMARY_GOALS.items() if op is not None]
    assert goals
    for path in goals:
        assert summary_goal_text(summary, path) in table, path
    assert "goal >= 0.41x (pgbench counter: 32 / 1 clients)" in table
    # One place: a changed target shows in the bench's table and in the report alike.
    op, _, label = SUMMARY_GOALS[("python_layer", "ratio")]
    monkeypatch.setitem(SUMMARY_GOALS, ("python_layer", "ratio"), (op, 0.77, label))
    assert "goal >= 0.77x" in format_table(summary)


def test_fixture_run_json_has_the_shape_of_run_record() -> None:
    """``run.json`` is what :class:`RunRecord` writes (plus its conditions): regenerate the
    fixtures when the record changes, so the report is tested against what a run writes."""
    from dataclasses import fields

    from chatkit_pg.loadtest.orchestration.run import RunRecord

    recorded = json.loads((FIXTURES / "run_a" / RunFolder.LOADTEST_RUN_FILE).read_text())
    assert set(recorded) - {"conditions"} == {f.name for f in fields(RunRecord)}
    assert recorded["timings"] and recorded["capacity"]["summary"]
