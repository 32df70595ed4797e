"""Bulk writes: every row of a batch arrives whatever the slicing of PostgreSQL's COPY."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa

from storage import repo, sqlio, sqlite_staging
from storage.repo import read_interactions, upsert_interactions
from tests.builders import BASE, interaction, interactions_frame

# COPY is PostgreSQL's: these run only against the PostgreSQL database of the db_url fixture.
POSTGRES_ONLY = pytest.mark.parametrize("db_url", ["postgres"], indirect=True)


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


@POSTGRES_ONLY
def test_copy_falls_back_to_csv_for_tables_without_a_binary_mapping(engine: sa.Engine) -> None:
    frame = pl.DataFrame({"label": ["a", None, "c"], "amount": ["1.50", "2", None]})
    assert sqlio.binary_copy_dtypes("undeclared_table", frame.columns) is None
    with engine.begin() as conn:
        cursor = conn.connection.cursor()
        cursor.execute("CREATE TEMP TABLE undeclared_table (label text, amount numeric)")
        sqlio.copy_rows(cursor, "undeclared_table", frame)
        rows = conn.exec_driver_sql("SELECT label, amount::text FROM undeclared_table ORDER BY label").all()
    assert [tuple(r) for r in rows] == [("a", "1.50"), ("c", None), (None, "2")]


@POSTGRES_ONLY
def test_binary_copy_keeps_nulls_and_every_mapped_type(engine: sa.Engine) -> None:
    row = interaction("n", location=None, csat=None, nps=0, ces=7, reopens=3, closed_at=None, tags=[])
    with engine.begin() as conn:
        upsert_interactions(
            conn, interactions_frame([row, interaction("m", subject="ünïcode ✓", tags=["a", "b"])])
        )
    stored = read_interactions(engine).sort("external_id")
    expected = interactions_frame([interaction("m", subject="ünïcode ✓", tags=["a", "b"]), row]).sort(
        "external_id"
    )
    assert stored.equals(expected)


def test_a_batch_that_looks_new_but_holds_a_stored_id_is_still_upserted(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The probe sees only the first id, so the stored one is found only when the write meets it: a
    # PostgreSQL COPY, or on SQLite one staged INSERT (staging forced for these few rows).
    monkeypatch.setattr(repo, "NEW_BATCH_PROBE", 1)
    monkeypatch.setenv(sqlite_staging.STAGED_MIN_ROWS_VARIABLE, "1")
    outcomes: list[bool] = []
    copy_new_rows = repo._copy_new_rows

    def recording(*args: Any) -> bool:
        outcomes.append(copy_new_rows(*args))
        return outcomes[-1]

    monkeypatch.setattr(repo, "_copy_new_rows", recording)
    stored = interaction("50", subject="old")
    with engine.begin() as conn:
        upsert_interactions(conn, interactions_frame([stored]))
    later = BASE + timedelta(days=1)
    batch = [interaction(str(n)) for n in range(10, 50)] + [
        interaction("50", subject="new", updated_at=later)
    ]
    with engine.begin() as conn:
        counts = upsert_interactions(conn, interactions_frame(batch))
    assert outcomes == [True, False]  # the first load, then the write that met "50"
    assert (counts.inserted, counts.updated, counts.unchanged) == (40, 1, 0)
    rows = read_interactions(engine)
    assert rows.height == 41
    assert rows.filter(pl.col("external_id") == "50")["subject"].item() == "new"
