"""Readers: one results folder in, plain data out. The only module that opens result files.

Every part is optional (a missing file becomes ``None`` and a note), but a file that exists
and cannot be read as its agreed format raises :class:`ReportInputError` naming the file and
what was wrong, so a broken producer is never mistaken for a missing one. File names are
:class:`~chatkit_pg.harness.results.RunFolder`'s.

What the code under measurement promised comes from the folder too: each strategy's
guarantees and the default strategy from ``strategies.json``, each index variant's
definition from ``bench/variants.json``. An old run is judged by what it recorded; a run
that recorded none has unknown guarantees, never today's.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from chatkit_pg.harness.results import RunFolder
from chatkit_pg.harness.vocabulary import bench_percentile_key
from chatkit_pg.loadtest.orchestration.locust_csv import NotLocustCsv, read_rows

from .errors import ReportInputError
from .recorded import capacity_summary, streamed_timings

__all__ = [
    "GUARANTEES",
    "Benchmark",
    "LoadTest",
    "ReportInputError",
    "Results",
    "StrategyRecord",
    "VariantRecord",
    "csv_number",
    "load_results",
    "read_json",
]

GUARANTEES = ("race_free", "gapless", "commit_order", "retries")
"""The promises a strategy's entry in ``strategies.json`` states."""


@dataclass(frozen=True)
class Benchmark:
    """One entry of pytest-benchmark's ``benchmarks[]`` with our ``extra_info`` keys."""

    name: str
    group: str | None
    stats: dict[str, Any]
    extra: dict[str, Any]

    @property
    def kind(self) -> str | None:
        return self.extra.get("kind")

    def get(self, key: str) -> Any:
        return self.extra.get(key)

    @property
    def ops_per_s(self) -> float | None:
        """Throughput: ``extra_info.ops_per_s`` (concurrent runs), else pytest-benchmark's ops."""
        value = _number(self.extra.get("ops_per_s"))
        return value if value is not None else _number(self.stats.get("ops"))

    def latency_ms(self, p: int) -> float | None:
        """Percentile ``p`` in ms: ``extra_info.p<p>_ms``, else the median for p50."""
        value = _number(self.extra.get(bench_percentile_key(p)))
        if value is None and p == 50:
            median = _number(self.stats.get("median"))
            value = None if median is None else median * 1000.0
        return value


@dataclass
class LoadTest:
    """Locust's CSVs (rows as dicts of strings) plus our integrity check and run settings."""

    stats: list[dict[str, str]] | None = None
    history: list[dict[str, str]] | None = None
    failures: list[dict[str, str]] | None = None
    exceptions: list[dict[str, str]] | None = None
    integrity: dict[str, Any] | None = None
    run: dict[str, Any] | None = None
    html_report: str | None = None  # relative path, linked not embedded
    verify: dict[str, Any] | None = None  # remote runs' --verify (integrity over HTTP)
    capacity: dict[str, Any] | None = None  # --find-capacity: the ramp's steps and verdict
    sweep: dict[str, Any] | None = None  # --sweep-rates/--sweep-users: points and the knee
    flat: bool = False  # Locust's files sat in the folder itself, not in loadtest/
    # As the run recorded them, or (``*_derived``) as the recorder's code gives them for an
    # older run that did not (:mod:`.recorded`): the report says which.
    timings: list[dict[str, Any]] | None = None  # run.json "timings"
    timings_derived: bool = False
    capacity_summary: str | None = None  # run.json "capacity.summary"
    capacity_summary_derived: bool = False

    @property
    def remote(self) -> bool:
        """The run loaded a server it did not start (``chatkit-pg loadtest --host``)."""
        return bool(self.run and self.run.get("mode") == "remote") or self.flat


INTERVAL_KEYS: Final = ("value", "low", "high")


@dataclass(frozen=True)
class StrategyRecord:
    """One sort-key strategy as the run recorded it in ``strategies.json``."""

    name: str
    description: str
    guarantees: dict[str, bool]


@dataclass(frozen=True)
class VariantRecord:
    """One index variant as the run recorded it in ``bench/variants.json``."""

    name: str
    description: str
    ddl: tuple[str, ...]
    sort_key_unique: bool | None


@dataclass
class Results:
    """Everything a results folder holds; ``None`` where a part is missing."""

    folder: Path
    conditions: dict[str, Any] | None = None
    strategies: dict[str, StrategyRecord] | None = None
    default_strategy: str | None = None
    variants: dict[str, VariantRecord] | None = None
    shipped_variant: str | None = None  # bench/variants.json "shipped"
    comparisons: dict[str, Any] | None = None  # bench/comparisons.json sections by name
    benchmarks: list[Benchmark] | None = None
    bench_machine: dict[str, Any] | None = None
    pgbench: list[dict[str, Any]] | None = None
    sizes: dict[str, Any] | None = None
    upgrade: dict[str, Any] | None = None  # bench/upgrade.json: migrating under appends
    plans: list[dict[str, Any]] | None = None
    summary: dict[str, Any] | None = None
    races: list[dict[str, Any]] | None = None
    loadtest: LoadTest | None = None
    missing: list[str] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[Benchmark]:
        return [b for b in self.benchmarks or () if b.kind == kind]

    def guarantee(self, strategy: str, promise: str) -> bool | None:
        """Whether the run recorded ``strategy`` as promising ``promise``; None if unknown."""
        record = (self.strategies or {}).get(strategy)
        return None if record is None else record.guarantees.get(promise)

    def unknown_guarantees(self, strategy: str) -> str | None:
        """Why ``strategy``'s guarantees are unknown to this run, or None when they are known."""
        if self.strategies is None:
            return f"guarantees unknown (no {RunFolder.STRATEGIES_FILE} in the results)"
        if strategy not in self.strategies:
            return f"guarantees unknown (not in the run's {RunFolder.STRATEGIES_FILE})"
        return None


def load_results(folder: Path) -> Results:
    """Read every known part of ``folder``.

    Args:
        folder: a results folder (``results/<timestamp>/``).

    Returns:
        The parts found; ``missing`` lists the relative paths that were absent.

    Raises:
        FileNotFoundError: ``folder`` is not a directory.
        ReportInputError: a file exists but is malformed (the message names it).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"results folder {folder} does not exist or is not a directory")
    results = Results(folder=folder)
    results.conditions = _optional_json(results, RunFolder.CONDITIONS_FILE)
    strategies = _optional_json(results, RunFolder.STRATEGIES_FILE)
    if strategies is not None:
        results.strategies, results.default_strategy = _strategies(
            folder / RunFolder.STRATEGIES_FILE, strategies
        )
    bench = _optional_json(results, RunFolder.BENCHMARK_FILE)
    if bench is not None:
        results.benchmarks = _benchmarks(folder / RunFolder.BENCHMARK_FILE, bench)
        results.bench_machine = {
            "machine_info": bench.get("machine_info"),
            "commit_info": bench.get("commit_info"),
            "datetime": bench.get("datetime"),
        }
    variants = _optional_json(results, RunFolder.VARIANTS_FILE)
    if variants is not None:
        results.variants = _variants(folder / RunFolder.VARIANTS_FILE, variants)
        shipped = variants.get("shipped")
        results.shipped_variant = shipped if isinstance(shipped, str) else None
    comparisons = _optional_json(results, RunFolder.COMPARISONS_FILE)
    if comparisons is not None:
        results.comparisons = _comparisons(folder / RunFolder.COMPARISONS_FILE, comparisons)
    pgbench = _optional_json(results, RunFolder.PGBENCH_FILE)
    if pgbench is not None:
        results.pgbench = _list_of_objects(folder / RunFolder.PGBENCH_FILE, pgbench, "runs")
    sizes = _optional_json(results, RunFolder.SIZES_FILE)
    if sizes is not None:
        results.sizes = _object(folder / RunFolder.SIZES_FILE, sizes.get("variants"), "variants")
    results.plans = _plans(results)
    upgrade = _optional_json(results, RunFolder.UPGRADE_FILE)
    if upgrade is not None:
        path = folder / RunFolder.UPGRADE_FILE
        results.upgrade = _object(path, upgrade.get("upgrade"), "upgrade")
    results.summary = _optional_json(results, RunFolder.SUMMARY_FILE)
    races = _optional_json(results, RunFolder.RACE_MATRIX_FILE)
    if races is not None:
        results.races = _list_of_objects(folder / RunFolder.RACE_MATRIX_FILE, races, "rows")
    results.loadtest = _loadtest(results)
    return results


def _optional_json(results: Results, relative: str) -> dict[str, Any] | None:
    path = results.folder / relative
    if not path.exists():
        results.missing.append(relative)
        return None
    return read_json(path)


def read_json(path: Path) -> dict[str, Any]:
    """Parse ``path`` as a JSON object, or raise :class:`ReportInputError` naming it."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportInputError(f"{path}: cannot read: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise ReportInputError(f"{path}: not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise ReportInputError(f"{path}: expected a JSON object, got {type(document).__name__}")
    return document


def _object(path: Path, value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ReportInputError(f"{path}: {where!r} must be an object, got {type(value).__name__}")
    return value


def _list_of_objects(path: Path, document: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = document.get(key)
    if not isinstance(value, list):
        raise ReportInputError(f"{path}: {key!r} must be a list, got {type(value).__name__}")
    for n, row in enumerate(value):
        if not isinstance(row, dict):
            raise ReportInputError(f"{path}: {key}[{n}] must be an object")
    return value


def _strategies(
    path: Path, document: dict[str, Any]
) -> tuple[dict[str, StrategyRecord], str | None]:
    """``strategies.json``: ``{"default", "strategies": {name: {description, guarantees}}}``."""
    entries = _object(path, document.get("strategies"), "strategies")
    default = document.get("default")
    if default is not None and not isinstance(default, str):
        raise ReportInputError(f"{path}: 'default' must be a strategy name")
    records = {}
    for name, entry in entries.items():
        entry = _object(path, entry, f"strategies.{name}")
        guarantees = _object(path, entry.get("guarantees"), f"strategies.{name}.guarantees")
        for promise, value in guarantees.items():
            if not isinstance(value, bool):
                raise ReportInputError(
                    f"{path}: strategies.{name}.guarantees.{promise} must be true or false"
                )
        records[name] = StrategyRecord(name, str(entry.get("description") or ""), guarantees)
    return records, default


def _variants(path: Path, document: dict[str, Any]) -> dict[str, VariantRecord]:
    """``bench/variants.json``: ``{"variants": {name: {description, ddl, sort_key_unique}}}``."""
    entries = _object(path, document.get("variants"), "variants")
    records = {}
    for name, entry in entries.items():
        entry = _object(path, entry, f"variants.{name}")
        ddl = entry.get("ddl") or []
        if not isinstance(ddl, list) or not all(isinstance(d, str) for d in ddl):
            raise ReportInputError(f"{path}: variants.{name}.ddl must be a list of statements")
        unique = entry.get("sort_key_unique")
        records[name] = VariantRecord(
            name=name,
            description=str(entry.get("description") or ""),
            ddl=tuple(ddl),
            sort_key_unique=unique if isinstance(unique, bool) else None,
        )
    return records


def _comparisons(path: Path, document: dict[str, Any]) -> dict[str, Any]:
    """``bench/comparisons.json``: ``{section: {baseline, groups: {group: {contender: entry}}}}``
    where an entry has ``median`` (value, low, high) and, but for the baseline,
    ``ratio_to_baseline`` and ``call``."""
    sections = {k: v for k, v in document.items() if k != "conditions"}
    for name, section in sections.items():
        section = _object(path, section, name)
        if not isinstance(section.get("baseline"), str):
            raise ReportInputError(f"{path}: {name}.baseline must name the baseline")
        for group, contenders in _object(path, section.get("groups"), f"{name}.groups").items():
            for contender, entry in _object(path, contenders, f"{name}.{group}").items():
                where = f"{name}.groups.{group}.{contender}"
                median = _object(path, _object(path, entry, where).get("median"), where)
                if not all(isinstance(median.get(k), int | float) for k in INTERVAL_KEYS):
                    raise ReportInputError(f"{path}: {where}.median needs value, low and high")
    return sections


def _benchmarks(path: Path, document: dict[str, Any]) -> list[Benchmark]:
    rows = _list_of_objects(path, document, "benchmarks")
    out = []
    for n, row in enumerate(rows):
        name = row.get("name")
        if not isinstance(name, str):
            raise ReportInputError(f"{path}: benchmarks[{n}] has no 'name'")
        stats = _object(path, row.get("stats"), f"benchmarks[{n}].stats ({name})")
        extra = _object(path, row.get("extra_info") or {}, f"benchmarks[{n}].extra_info ({name})")
        out.append(Benchmark(name=name, group=row.get("group"), stats=stats, extra=extra))
    return out


def _plans(results: Results) -> list[dict[str, Any]] | None:
    root = results.folder / RunFolder.PLANS_DIR
    if not root.is_dir():
        results.missing.append(RunFolder.PLANS_DIR + "/")
        return None
    plans = []
    for path in sorted(root.glob("*/*.json")):
        plan = read_json(path)
        plan.setdefault("variant", path.parent.name)
        plan.setdefault("query", path.stem)
        node_types = plan.get("node_types")
        if node_types is not None and not isinstance(node_types, list):
            raise ReportInputError(f"{path}: 'node_types' must be a list")
        plans.append(plan)
    return plans


def _loadtest(results: Results) -> LoadTest | None:
    folder = results.folder / RunFolder.LOADTEST_DIR
    flat = False
    if not folder.is_dir():
        if not any(results.folder.glob("*_stats.csv")):
            results.missing.append(RunFolder.LOADTEST_DIR + "/")
            return None
        folder, flat = results.folder, True  # `locust --csv DIR/prefix` straight into it
    sweep = _sweep(results.folder / RunFolder.SWEEP_FILE)
    prefix = _locust_prefix(folder)
    stats = folder / f"{prefix}_stats.csv"
    if sweep is not None and not stats.exists():
        # A sweep's own folder: each point's Locust files and run.json are in its folder.
        return LoadTest(sweep=sweep)
    lt = LoadTest(
        stats=_optional_csv(results, stats, ("Type", "Name")),
        history=_optional_csv(
            results, folder / f"{prefix}_stats_history.csv", ("Timestamp", "Name", "Requests/s")
        ),
        failures=_optional_csv(results, folder / f"{prefix}_failures.csv", ("Name", "Error")),
        exceptions=_optional_csv(results, folder / f"{prefix}_exceptions.csv", ("Count",)),
    )
    lt.flat = flat
    lt.sweep = sweep
    lt.run = _optional_json(results, RunFolder.LOADTEST_RUN_FILE) if not flat else None
    integrity_path = results.folder / RunFolder.INTEGRITY_FILE
    if integrity_path.exists():
        lt.integrity = read_json(integrity_path)
        if "checks" in lt.integrity:
            _list_of_objects(integrity_path, lt.integrity, "checks")
    elif not lt.remote:  # a remote run has no database to check
        results.missing.append(RunFolder.INTEGRITY_FILE)
    verify = results.folder / RunFolder.VERIFY_FILE
    if verify.exists():
        lt.verify = read_json(verify)
    capacity = results.folder / RunFolder.CAPACITY_FILE
    if capacity.exists():
        lt.capacity = read_json(capacity)
        for step in _list_of_objects(capacity, lt.capacity, "steps"):
            for key in ("users", "rps", "within_slo"):
                if key not in step:
                    raise ReportInputError(f"{capacity}: a step without {key!r}")
        lt.capacity_summary, lt.capacity_summary_derived = capacity_summary(lt.run, lt.capacity)
    lt.timings, lt.timings_derived = streamed_timings(
        lt.run, results.folder / RunFolder.LOADTEST_RUN_FILE, stats if lt.stats else None
    )
    html = folder / f"{prefix}_report.html"
    if html.exists():
        lt.html_report = str(html.relative_to(results.folder))
    return lt


def _sweep(path: Path) -> dict[str, Any] | None:
    """``sweep.json``: ``{"kind", "unit", "slo", "points": [{"load", "goodput_share", ...}],
    "knee": {"target", "load", "summary"}}``, or None when there is none."""
    if not path.exists():
        return None
    sweep = read_json(path)
    for point in _list_of_objects(path, sweep, "points"):
        for key in ("load", "goodput_share"):
            if key not in point:
                raise ReportInputError(f"{path}: a point without {key!r}")
    knee = _object(path, sweep.get("knee"), "knee")
    if not isinstance(knee.get("summary"), str):
        raise ReportInputError(f"{path}: 'knee' without its 'summary' sentence")
    return sweep


def _locust_prefix(folder: Path) -> str:
    """Locust's ``--csv`` prefix as agreed; else the one ``<prefix>_stats.csv`` it wrote."""
    agreed = Path(RunFolder.LOCUST_PREFIX).name
    if (folder / f"{agreed}_stats.csv").exists():
        return agreed
    found = sorted(p.name[: -len("_stats.csv")] for p in folder.glob("*_stats.csv"))
    return found[0] if len(found) == 1 else agreed


def _optional_csv(
    results: Results, path: Path, required: tuple[str, ...]
) -> list[dict[str, str]] | None:
    if not path.exists():
        results.missing.append(str(path.relative_to(results.folder)))
        return None
    try:
        return read_rows(path, required)
    except NotLocustCsv as exc:
        raise ReportInputError(str(exc)) from exc


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    return None


def csv_number(row: dict[str, str], column: str) -> float | None:
    """A numeric cell of a Locust CSV row; ``None`` for blanks and ``N/A``."""
    raw = (row.get(column) or "").strip()
    if not raw or raw.upper() == "N/A":
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
