"""What the load test recorded, read as recorded; for an older run, derived and flagged.

``run.json`` (:class:`~chatkit_pg.loadtest.orchestration.run.RunRecord`) holds the
streamed-request timings the run computed and ``capacity.summary``, the sentence it stated.
The report shows those, never what today's code would make of the raw files; only for a run
that recorded none (older runs, a folder of Locust's files alone) is the figure derived, by
the recorder's own code, and flagged ``derived`` so the report says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chatkit_pg.harness.vocabulary import capacity_sentence
from chatkit_pg.loadtest.orchestration.locust_csv import NotLocustCsv, summarize_stats, timings

from .errors import ReportInputError


def streamed_timings(
    run: dict[str, Any] | None, run_file: Path, stats_csv: Path | None
) -> tuple[list[dict[str, Any]] | None, bool]:
    """``(timings, derived)``: ``run.json``'s ``timings`` as recorded; without them, the
    recorder's :func:`~chatkit_pg.loadtest.orchestration.locust_csv.timings` over the stats
    CSV (the one Locust CSV reader), or None without that CSV or a number in it."""
    recorded = (run or {}).get("timings")
    if recorded is not None:
        if not isinstance(recorded, list) or not all(isinstance(e, dict) for e in recorded):
            raise ReportInputError(f"{run_file}: 'timings' must be a list of objects")
        return recorded, False
    if stats_csv is None:
        return None, False
    try:
        return timings(summarize_stats(stats_csv)), True
    except (NotLocustCsv, KeyError) as exc:
        raise ReportInputError(f"{stats_csv}: not a Locust stats CSV: {exc}") from exc
    except ValueError:  # a blank or N/A cell where a number belongs: nothing to derive
        return None, False


def capacity_summary(
    run: dict[str, Any] | None, capacity: dict[str, Any] | None
) -> tuple[str, bool]:
    """``(sentence, derived)``: the capacity sentence the run stated (``run.json``'s
    ``capacity.summary``, else ``capacity.json``'s ``summary``); for an older run without
    one, :func:`~chatkit_pg.harness.vocabulary.capacity_sentence` of its ``capacity.json``."""
    brief = (run or {}).get("capacity")
    for source in (brief if isinstance(brief, dict) else {}, capacity or {}):
        summary = source.get("summary")
        if isinstance(summary, str) and summary:
            return summary, False
    return capacity_sentence(capacity or {}), True
