"""A capacity sweep: the same load test at rising load, one run folder per point, and the
knee at the goodput target.

``--sweep-rates 1,2,4,8`` runs the open loop at each arrival rate (conversations/s);
``--sweep-users 5,10,20`` runs the closed loop at each user count. Every point is a whole
``chatkit-pg loadtest`` (local: a fresh database each; ``--host``: the same server) in
``loadtest/sweep/<rate|users>-<value>/``, with its own run.json. ``loadtest/sweep.json``
gathers one row per point -- goodput share and rate, the rate achieved, p95 of ttft, itl
and stream end from the records, failures, the load generator's CPU -- and the knee: the
highest load whose goodput share, and that of every load below it, is at least the target
("4 conversations/s at 99% goodput"). A sweep goes past the knee on purpose, so failures
there do not fail it; a failed integrity check or a point that recorded nothing does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Final, Literal

from chatkit_pg.harness.results import RunFolder

from .config import LoadTestConfig
from .console import print_sweep

SWEEP_FILE: Final = RunFolder.SWEEP_FILE
SWEEP_DIR: Final = RunFolder.SWEEP_DIR
DEFAULT_TARGET: Final = 0.99


@dataclass(frozen=True)
class Sweep:
    """The loads to run (``rates``: conversations/s, open loop; ``users``: closed loop)."""

    kind: Literal["rates", "users"]
    loads: tuple[float, ...]
    target: float = DEFAULT_TARGET

    def __post_init__(self) -> None:
        option = f"--sweep-{self.kind}"
        if len(self.loads) < 2:
            raise ValueError(f"{option} needs at least two loads, e.g. 1,2,4")
        if any(load <= 0 for load in self.loads) or list(self.loads) != sorted(set(self.loads)):
            raise ValueError(f"{option}: loads must be positive and rising, got {self.loads}")
        if self.kind == "users" and any(load != int(load) for load in self.loads):
            raise ValueError(f"{option}: user counts are whole numbers, got {self.loads}")
        if not 0 < self.target <= 1:
            raise ValueError(f"--goodput-target must be within (0, 1], got {self.target:g}")

    @property
    def unit(self) -> str:
        return "conversations/s" if self.kind == "rates" else "users"

    def label(self, load: float) -> str:
        return f"{'rate' if self.kind == 'rates' else 'users'}-{load:g}"

    def config_at(self, config: LoadTestConfig, load: float) -> LoadTestConfig:
        """``config`` at one load."""
        if self.kind == "users":
            return replace(config, users=int(load))
        return replace(config, scenario=replace(config.scenario, arrival_rate=load))


def parse_loads(text: str, option: str) -> tuple[float, ...]:
    """``'1,2,4'`` as ``(1.0, 2.0, 4.0)``.

    Raises:
        ValueError: naming ``option`` when a part is not a number.
    """
    try:
        return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ValueError(f"{option} must be numbers separated by commas, got {text!r}") from None


def point_row(sweep: Sweep, load: float, run: dict[str, Any], status: int) -> dict[str, Any]:
    """One point of ``sweep.json`` from its run.json."""
    good = run.get("goodput") or {}
    arrivals = run.get("arrivals") or {}
    turns = run.get("turns") or {}
    cpu = run.get("load_generator") or {}
    return {
        "load": load,
        "folder": f"{SWEEP_DIR}/{sweep.label(load)}",
        "exit_status": status,
        "requests": run.get("locust_requests", 0),
        "failures": run.get("locust_failures", 0),
        "goodput_share": good.get("share"),
        "goodput_share_ci95": good.get("share_ci95"),
        "goodput_rate_per_s": good.get("rate_per_s"),
        "turns_share": good.get("turns_share"),
        "missed_by": good.get("missed_by"),
        "achieved_rate_per_s": arrivals.get("achieved_rate_per_s"),
        "refused": arrivals.get("refused"),
        "skipped": arrivals.get("skipped"),
        "integrity_passed": run.get("integrity_passed"),
        "loadgen_cpu_p95": max(
            (p.get("cpu_p95", 0) for p in cpu.get("processes", ())), default=None
        ),
        **{k: turns.get(k) for k in ("ttft_p95_ms", "itl_p95_ms", "e2e_p95_ms")},
    }


def knee(sweep: Sweep, points: list[dict[str, Any]]) -> dict[str, Any]:
    """The highest load at the target with every load below it there too, the first one
    below, and the sentence the report ends with."""
    held: dict[str, Any] | None = None
    broke: dict[str, Any] | None = None
    for point in points:
        share = point["goodput_share"]
        if share is None or share < sweep.target:
            broke = point
            break
        held = point
    target = f"{round(sweep.target * 100, 4):g}%"  # 99%, 99.5%, 99.95%
    if held is None:
        summary = (
            f"goodput was below {target} already at the lowest load "
            f"({sweep.loads[0]:g} {sweep.unit}): no load met the SLO"
        )
    else:
        summary = f"{held['load']:g} {sweep.unit} at {target} goodput"
        if broke is not None:
            shown = "-" if broke["goodput_share"] is None else f"{broke['goodput_share']:.1%}"
            summary += f"; at {broke['load']:g} goodput fell to {shown}"
            interval = broke.get("goodput_share_ci95")
            if interval and interval[1] >= sweep.target:
                summary += (
                    f" (95% CI {interval[0]:.1%}-{interval[1]:.1%}: within the counting "
                    f"noise of {target}, repeat or lengthen that load to tell)"
                )
        else:
            summary += f" (the highest load swept; the knee is above {held['load']:g})"
    return {
        "target": sweep.target,
        "load": None if held is None else held["load"],
        "broken_at": None if broke is None else broke["load"],
        "summary": summary,
    }


def run_sweep(
    config: LoadTestConfig,
    folder: RunFolder,
    sweep: Sweep,
    run_one: Callable[[LoadTestConfig, RunFolder], int],
) -> int:
    """Each point with ``run_one`` (the local or the remote flow), then ``sweep.json``.

    Returns 2 when a point's integrity (or ``--verify``) failed, 1 when a point recorded no
    request, else 0."""
    points, statuses = [], []
    for n, load in enumerate(sweep.loads, start=1):
        print(f"sweep {n}/{len(sweep.loads)}: {load:g} {sweep.unit}", flush=True)
        sub = RunFolder.at(folder.path / SWEEP_DIR / sweep.label(load))
        status = run_one(sweep.config_at(config, load), sub)
        try:
            run = json.loads(sub.file(RunFolder.LOADTEST_RUN_FILE).read_text())
        except (OSError, ValueError):
            run = {}
        points.append(point_row(sweep, load, run, status))
        statuses.append(status)
    result = {
        "kind": sweep.kind,
        "unit": sweep.unit,
        "slo": config.goodput,
        "points": points,
        "knee": knee(sweep, points),
    }
    folder.write_json(SWEEP_FILE, result, folder.record_conditions("sweep", {
        "kind": sweep.kind, "loads": list(sweep.loads), "target": sweep.target,
        "host": config.host,
    }))  # fmt: skip
    print_sweep(result)
    if any(s == 2 for s in statuses):
        return 2
    return 1 if any(not p["requests"] for p in points) else 0
