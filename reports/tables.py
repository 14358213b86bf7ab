"""Every table of the report by id, built one way for a run and for its baseline.

Tables: saved results (and the verdict) in, :class:`~chatkit_pg.reports.document.Table` out,
one function per table in the module of its section (``tables_strategy``,
``tables_pagination``, ``tables_index``, ``tables_limit``, ``tables_load``,
``tables_conditions``). Each returns ``None`` when its data are missing, so the caller can
say so with a note instead of printing an empty table.
"""

from __future__ import annotations

from .document import Table
from .load import Results
from .tables_conditions import key_value_table
from .tables_goodput import arrivals_table, goodput_table, sweep_table
from .tables_index import (
    index_comparison_table,
    index_read_table,
    index_summary_table,
    plans_table,
    sizes_table,
    variant_definitions_table,
)
from .tables_limit import floors_table, limit_paths_table, summary_goals_table
from .tables_load import (
    capacity_table,
    failure_kind,
    failures_by_kind,
    integrity_table,
    load_failures_table,
    load_generator_table,
    load_requests_table,
    load_sse_table,
    load_timings_table,
)
from .tables_pagination import pagination_table
from .tables_strategy import (
    race_matrix_table,
    strategy_catalog_table,
    strategy_cells_table,
    strategy_ranking_table,
    verdict_table,
)
from .verdict import IndexVerdict, StrategyVerdict

__all__ = ["all_tables", "failure_kind", "failures_by_kind"]


def all_tables(results: Results, sv: StrategyVerdict, iv: IndexVerdict) -> dict[str, Table]:
    """Every table of the report by id (built the same way for a baseline)."""
    lt = results.loadtest
    settings = {k: v for k, v in lt.run.items() if k != "conditions"} if lt and lt.run else None
    built = [
        verdict_table(sv, iv),
        strategy_ranking_table(sv),
        strategy_catalog_table(results),
        strategy_cells_table(results),
        race_matrix_table(results),
        pagination_table(results),
        index_summary_table(iv),
        variant_definitions_table(results),
        index_read_table(iv),
        index_comparison_table(iv),
        sizes_table(results),
        plans_table(results),
        summary_goals_table(results),
        floors_table(results),
        limit_paths_table(results),
        *(
            (
                load_requests_table(lt),
                load_timings_table(lt),
                load_sse_table(lt),
                load_failures_table(lt),
                integrity_table(lt),
                capacity_table(lt),
                load_generator_table(lt),
                goodput_table(lt),
                arrivals_table(lt),
                sweep_table(lt),
            )
            if lt
            else ()
        ),
        key_value_table("load_settings", "Load-test settings", settings),
        key_value_table("conditions", "Conditions", results.conditions),
    ]
    return {t.id: t for t in built if t is not None}
