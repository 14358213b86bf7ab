"""What ``chatkit-pg loadtest`` prints: the load in words, Locust's summary, the ramp, the
open loop and goodput, a sweep."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chatkit_pg.harness.vocabulary import STREAM_PERCENTILES

from .config import LoadTestConfig
from .locust_csv import timings


def print_summary(rows: list[dict[str, Any]], integrity: dict[str, Any] | None, out: Path) -> None:
    print(f"{'type':6} {'name':34} {'reqs':>7} {'fail':>5} {'req/s':>7} {'p50':>6} {'p95':>6}")
    for r in rows:
        print(
            f"{r['type']:6} {r['name'][:34]:34} {r['requests']:7d} {r['failures']:5d} "
            f"{r['rps']:7.1f} {r['p50_ms']:6.0f} {r['p95_ms']:6.0f}"
        )
    print_timings(timings(rows))
    if integrity is None:
        print(f"results: {out}")
        return
    verdict = "PASSED" if integrity.get("passed") else "FAILED"
    print(f"integrity: {verdict}")
    for check in integrity.get("checks", []):
        print(f"  [{'ok' if check['passed'] else 'FAIL'}] {check['name']}: {check['detail']}")
    print(f"results: {out}")


def print_timings(streamed: list[dict[str, Any]]) -> None:
    """The streamed timings as run.json records them: per request and timing, the count and
    its percentiles (ms; tokens/s for that row)."""
    head = "  ".join(f"{'p' + str(p):>7}" for p in STREAM_PERCENTILES)
    print(f"{'streamed timing':42} {'count':>7}  {head}")
    for entry in streamed:
        for key, timing in entry.items():
            if key == "request" or not timing:
                continue
            cells = "  ".join(f"{timing[f'p{p}']:7.0f}" for p in STREAM_PERCENTILES)
            print(f"{key + ' ' + entry['request']:42} {timing['count']:7d}  {cells}")


def load_text(config: LoadTestConfig) -> str:
    """The load in words, for the progress lines."""
    cap = config.capacity
    if cap is None:
        return f"{config.users} users, {config.run_time}"
    return (
        f"capacity ramp: {cap.start_users}..{cap.max_users} users by {cap.step_users} every "
        f"{cap.step_duration:g} s, until p95 of {cap.request!r} > {cap.slo_p95_ms:g} ms or "
        "failures"
    )


def print_capacity(capacity: dict[str, Any] | None) -> None:
    if capacity is None:
        return
    print(f"capacity steps ({capacity['request']}, SLO p95 <= {capacity['slo_p95_ms']:g} ms):")
    for step in capacity.get("steps") or ():
        p95 = "-" if step["p95_ms"] is None else f"{step['p95_ms']:.0f}"
        mark = "ok" if step["within_slo"] else f"BROKEN: {step['reason']}"
        print(
            f"  {step['users']:5d} users {step['rps']:8.1f} req/s  p95 {p95:>6} ms  "
            f"{step['failures']:4d} failures  {mark}"
        )
    print(capacity["summary"], flush=True)


# -- the run, step by step ----------------------------------------------------------------------


def print_checks(name: str, result: dict[str, Any] | None) -> None:
    """A check's verdict and its lines (``--verify``'s re-read over HTTP)."""
    if result is None:
        return
    print(f"{name}: {'PASSED' if result['passed'] else 'FAILED'}")
    for check in result["checks"]:
        print(f"  [{'ok' if check['passed'] else 'FAIL'}] {check['name']}: {check['detail']}")


def print_open_loop(arrivals: dict[str, Any] | None, good: dict[str, Any] | None) -> None:
    """The open loop's achieved rate, and goodput against its SLO."""
    if arrivals:
        achieved = arrivals["achieved_rate_per_s"]
        print(
            f"open loop: target {arrivals['rate_per_s']:g}/s (burstiness "
            f"{arrivals['burstiness']:g}, cap {arrivals['cap']}), achieved "
            f"{'-' if achieved is None else f'{achieved:g}'}/s: {arrivals['started']} started, "
            f"{arrivals['refused']} refused at the cap, {arrivals['skipped']} skipped"
        )
    if good:
        share = "-" if good["share"] is None else f"{good['share']:.1%}"
        if good.get("share_ci95"):
            low, high = good["share_ci95"]
            share += f" (95% CI {low:.1%}-{high:.1%})"
        rate = "-" if good["rate_per_s"] is None else f"{good['rate_per_s']:g}/s"
        print(
            f"goodput ({good['slo_text']}): {share} of {good['requests']} requests ({rate}); "
            f"missed by {good['missed_by'] or 'none'}",
            flush=True,
        )


def print_sweep(result: dict[str, Any]) -> None:
    print(f"sweep ({result['unit']}; goodput SLO {result['slo']}):")
    for p in result["points"]:

        def ms(key: str, point: dict[str, Any] = p) -> str:
            return "-" if point[key] is None else f"{point[key]:.0f}"

        share = "-" if p["goodput_share"] is None else f"{p['goodput_share']:.1%}"
        print(
            f"  {p['load']:8g}  goodput {share:>6}  ttft p95 {ms('ttft_p95_ms'):>6}  "
            f"itl p95 {ms('itl_p95_ms'):>5}  e2e p95 {ms('e2e_p95_ms'):>6} ms  "
            f"{p['failures']} failures"
        )
    print(f"knee: {result['knee']['summary']}", flush=True)


def print_load_generator(cpu: dict[str, Any] | None) -> None:
    """Each Locust process's CPU (% of one core), and the warning when one passed ~90%."""
    if not cpu or not cpu.get("processes"):
        return
    parts = [
        f"{p['role']}{' ' + str(p['index']) if p['role'] == 'worker' else ''} "
        f"{p.get('cpu_mean', 0):.0f}% mean / {p.get('cpu_p95', 0):.0f}% p95"
        for p in cpu["processes"]
    ]
    print("load generator CPU (of one core): " + "; ".join(parts))
    if cpu.get("warning"):
        print(f"WARNING: {cpu['warning']}", flush=True)
