"""The load-test section (target, shape, capacity, checks, figures and tables) and the
conditions section. Figures the run recorded (the capacity sentence, the streamed timings)
are shown as recorded; one derived for an older run is said to be so."""

from __future__ import annotations

from typing import Any

from chatkit_pg.harness.results import RunFolder

from . import figures_load, figures_sweep
from .document import Block, Note, Paragraph, Section, Table, missing_note
from .load import LoadTest, Results
from .tables_goodput import interval_text, slo_limits_text


def capacity_derived_note(lt: LoadTest) -> Note | None:
    """Says so when the capacity sentence was not recorded but stated by today's code."""
    if not lt.capacity_summary_derived:
        return None
    return Note(
        f"This run recorded no capacity sentence (an older run): it is stated from its "
        f"{RunFolder.CAPACITY_FILE} by today's code."
    )


def sweep_sentence(sweep: dict[str, Any]) -> str:
    """The knee as sweep.json states it, with the SLO it was held to."""
    limits = slo_limits_text(sweep)
    return f"{sweep['knee']['summary']} (SLO {limits})" if limits else sweep["knee"]["summary"]


def _goodput_text(good: dict[str, Any]) -> str:
    share, rate = good.get("share"), good.get("rate_per_s")
    shown = "-" if share is None else f"{share:.1%}"
    interval = interval_text(good.get("share_ci95"))
    if interval:
        shown += f" (95% CI {interval}%)"
    text = f"Goodput at SLO {good.get('slo_text')} (ms): {shown} of {good.get('requests')} requests"
    if rate is not None:
        text += f", {rate:g} requests/s"
    if good.get("turns"):
        turns = good.get("turns_share")
        text += f"; {'-' if turns is None else f'{turns:.1%}'} of {good['turns']} streamed turns"
    return text + "."


def _arrivals_text(arrivals: dict[str, Any]) -> str:
    return (
        f"Open loop: {arrivals.get('rate_per_s')} conversations/s offered (burstiness "
        f"{arrivals.get('burstiness')}, cap {arrivals.get('cap')}), "
        f"{arrivals.get('achieved_rate_per_s')}/s achieved; {arrivals.get('started')} started, "
        f"{arrivals.get('refused')} refused at the cap, {arrivals.get('skipped')} skipped."
    )


def sweep_part(lt: LoadTest, results: Results, by_id: dict[str, Table]) -> list[Block | None]:
    """The sweep's sentence, figure and table (empty without a sweep)."""
    if lt.sweep is None:
        return []
    return [
        Paragraph(f"**Capacity sweep: {sweep_sentence(lt.sweep)}**."),
        figures_sweep.sweep_goodput(lt, results.folder),
        by_id.get("load_sweep"),
    ]


def target(results: Results) -> str:
    lt = results.loadtest
    run = (lt.run if lt else None) or {}
    if run.get("host"):
        return str(run["host"])
    stages = (results.conditions or {}).get("stages") or {}
    stage = stages.get("loadtest") or stages.get("sweep") or {}
    if stage.get("host"):
        return str(stage["host"])
    if run or (lt and lt.sweep is not None):
        return "our server on PostgresStore"
    return "a ChatKit server (Locust's files only)"


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


def load_section(results: Results, by_id: dict[str, Table]) -> Section:
    section = Section("loadtest", "Load test")
    lt = results.loadtest
    if lt is None:
        section.add(missing_note(results.missing, RunFolder.LOADTEST_DIR + "/"))
        return section
    section.add(*sweep_part(lt, results, by_id))
    if lt.sweep is not None and lt.run is None:
        return section  # a sweep's own folder: each point is a run of its own
    section.add(Paragraph(f"Target: {target(results)}."))
    shape = _shape_text(results)
    if shape:
        section.add(Paragraph(shape))
    run = lt.run or {}
    if isinstance(run.get("arrivals"), dict):
        section.add(Paragraph(_arrivals_text(run["arrivals"])), by_id.get("load_arrivals"))
    if isinstance(run.get("goodput"), dict):
        section.add(Paragraph(_goodput_text(run["goodput"])), by_id.get("load_goodput"))
    if lt.capacity is not None:
        section.add(
            Paragraph(f"**{lt.capacity_summary}**."),
            capacity_derived_note(lt),
            figures_load.capacity_steps(lt, results.folder),
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
    failure_figure = figures_load.load_failures(lt, results.folder)
    section.add(
        figures_load.load_over_time(lt, results.folder),
        figures_load.load_percentiles(lt, results.folder),
        by_id.get("load_timings"),
        by_id.get("load_generator"),
        by_id.get("load_requests"),
        figures_load.ttfe_distribution(lt, results.folder),
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
            missing_note(
                results.missing,
                *(p for p in results.missing if p.startswith(RunFolder.LOADTEST_DIR)),
                RunFolder.INTEGRITY_FILE,
            )
        )
    return section


def conditions_section(results: Results, by_id: dict[str, Table]) -> Section:
    section = Section("conditions", "Conditions")
    section.add(
        Paragraph("Where and with what these numbers were measured (passwords masked)."),
        by_id.get("conditions"),
        missing_note(results.missing, RunFolder.CONDITIONS_FILE),
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
