"""Bulk writes: every row of a batch arrives whatever the slicing of PostgreSQL's COPY."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa

from storage import sqlio
from storage.db import make_engine, upgrade
from storage.repo import read_interactions, upsert_interactions
from tests.builders import BASE, interaction, interactions_frame


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    eng = make_engine(db_url)
    upgrade(eng)
    yield eng
    eng.dispose()


def test_batches_written_in_many_slices_arrive_whole(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlio, "COPY_SLICE_ROWS", 3)
    with engine.begin() as conn:
        # All new: COPY straight into the table.
        first = upsert_interactions(conn, interactions_frame([interaction(str(n)) for n in range(10)]))
        # Some updated: COPY into the staging table, then INSERT .. ON CONFLICT.
        later = BASE + timedelta(days=1)
        changed = [interaction(str(n), subject=f"changed {n}", updated_at=later) for n in range(8, 15)]
        second = upsert_interactions(conn, interactions_frame(changed))
    assert (first.inserted, second.inserted, second.updated) == (10, 5, 2)
    stored = read_interactions(engine)
    assert sorted(stored["external_id"].to_list(), key=int) == [str(n) for n in range(15)]
    subjects = dict(zip(stored["external_id"], stored["subject"], strict=True))
    assert subjects["7"] == "Wrong invoice"
    assert all(subjects[str(n)] == f"changed {n}" for n in range(8, 15))
