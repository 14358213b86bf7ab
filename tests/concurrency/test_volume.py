"""Volume races: N concurrent ``add_thread_item`` per round, on one thread or spread over many.

Each test is one cell of the race matrix (strategy x scenario x concurrency), run by the
matrix's own producer (:func:`chatkit_pg.harness.races.race_cell`) on this test's fresh
database: the cell judges every round against the strategy's own promises, and the test
asserts that none was broken. ``chatkit-pg races`` runs the same cells and writes the matrix.
"""

from __future__ import annotations

from typing import Any

import pytest

from chatkit_pg import STRATEGIES
from chatkit_pg.harness.races import active_profile, race_cell
from chatkit_pg.harness.vocabulary import SCENARIOS

pytestmark = pytest.mark.race

PROFILE = active_profile()


@pytest.mark.parametrize("concurrency", PROFILE.concurrency)
@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("strategy", tuple(STRATEGIES))
async def test_volume_race(
    store_dsn: str, store_options: dict[str, Any], strategy: str, scenario: str, concurrency: int
) -> None:
    cell = await race_cell(store_dsn, strategy, scenario, concurrency, PROFILE, **store_options)
    row = cell.row
    assert cell.problems == []
    assert (row["strategy"], row["scenario"], row["concurrency"]) == (
        strategy,
        scenario,
        concurrency,
    )
    assert row["adds"] == PROFILE.rounds * concurrency * PROFILE.adds_per_writer
    assert cell.stored_rows == row["adds"] - row["failed_adds"]
