"""SQLite writes staged through an ADBC-written scratch database store exactly what bound rows store."""

from __future__ import annotations

import sqlite3
import tempfile
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa

from storage import sqlite_staging
from storage.db import make_engine, upgrade
from storage.repo import insert_events, upsert_interactions
from storage.sqlio import bulk_insert
from storage.tables import interactions as interactions_table
from tests.builders import BASE, event, events_frame, interaction, interactions_frame

INTERACTION_COLUMNS = [c.name for c in interactions_table.columns]
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture(autouse=True)
def private_tempdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Scratch files go to a folder of the test's own, so the test can see that none is left behind."""
    folder = tmp_path / "scratch"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture
def scratch_writes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The row count of every scratch database written during the test."""
    heights: list[int] = []
    write_scratch = sqlite_staging._write_scratch

    def counting(frame: pl.DataFrame) -> Path:
        heights.append(frame.height)
        return write_scratch(frame)

    monkeypatch.setattr(sqlite_staging, "_write_scratch", counting)
    return heights


def _stage_every_write(monkeypatch: pytest.MonkeyPatch, staged: bool) -> None:
    monkeypatch.setenv(sqlite_staging.STAGED_MIN_ROWS_VARIABLE, "1" if staged else str(10**9))


def _first_load() -> list[dict[str, Any]]:
    return [
        interaction("1", subject="ünïcode ✓ 'quoted' \"twice\"", tags=["a", "b"]),
        interaction("2", location=None, team=None, csat=None, nps=0, ces=7, reopens=3, tags=[]),
        interaction("3", closed_at=BASE + timedelta(days=2), status="closed", first_response_at=None),
        interaction("4", csat=None, nps=None, ces=None),
    ]


def _second_load() -> list[dict[str, Any]]:
    later, earlier = BASE + timedelta(days=1), BASE - timedelta(days=1)
    return [
        interaction("1", subject="newer wins", updated_at=later),
        interaction("2", subject="older loses", updated_at=earlier, csat=2),  # fills the missing answer only
        interaction("4", csat=5, nps=9, ces=1),  # same time, other content: the larger hash wins
        interaction("5", channel="chat"),
    ]


def _stored(engine: sa.Engine) -> list[tuple[Any, ...]]:
    """Every stored value with its SQLite storage class, so text and numbers cannot pass for each other."""
    with engine.connect() as conn:
        columns = [row[1] for row in conn.exec_driver_sql("PRAGMA table_info(interactions)")]
        typed = ", ".join(f"{c}, typeof({c})" for c in columns if c != "ingested_at")
        rows = conn.exec_driver_sql(f"SELECT {typed} FROM interactions ORDER BY interaction_id").all()
        events = conn.exec_driver_sql(
            "SELECT event_key, interaction_id, at, typeof(at), type, status, author, body "
            "FROM interaction_events ORDER BY event_key"
        ).all()
    return [tuple(r) for r in rows] + [tuple(r) for r in events]


def _named(row: tuple[Any, ...]) -> list[tuple[Any, Any]]:
    """(column, value) pairs of a stored interaction row from :func:`_stored`."""
    columns = [c for c in INTERACTION_COLUMNS if c != "ingested_at"]
    return list(zip(columns, row[::2], strict=True))


def _load_twice(engine: sa.Engine) -> list[tuple[Any, ...]]:
    with engine.begin() as conn:
        upsert_interactions(conn, interactions_frame(_first_load()), BASE)
    with engine.begin() as conn:
        upsert_interactions(conn, interactions_frame(_second_load()), BASE)
    with engine.begin() as conn:
        events = [event("generic:1", BASE, "agent_reply", body="hi"), event("generic:5", BASE, "note")]
        insert_events(conn, events_frame(events))
    return _stored(engine)


def test_staged_writes_store_exactly_what_bound_rows_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, private_tempdir: Path, scratch_writes: list[int]
) -> None:
    results = []
    for staged in (False, True):
        _stage_every_write(monkeypatch, staged)
        engine = make_engine(f"sqlite:///{tmp_path / f'staged-{staged}.db'}")
        upgrade(engine)
        results.append(_load_twice(engine))
        engine.dispose()
    bound, staged_rows = results
    assert len(scratch_writes) == 3  # first load; second load's inserts and updates; events
    assert staged_rows == bound
    assert len(bound) == 5 + 2  # interactions, then events
    assert ("subject", "newer wins") in _named(bound[0]) and ("csat", 2) in _named(bound[1])
    assert list(private_tempdir.iterdir()) == []


@SQLITE_ONLY
def test_staging_is_used_outside_a_transaction_only(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch, scratch_writes: list[int]
) -> None:
    _stage_every_write(monkeypatch, True)
    with engine.begin() as conn:
        upsert_interactions(conn, interactions_frame(_first_load()), BASE)  # staged: nothing written yet
        # The transaction now holds SQLite's write lock: a second writer would wait for it forever, so
        # these rows are bound on the connection itself.
        upsert_interactions(conn, interactions_frame([interaction("9")]), BASE)
    assert scratch_writes == [4]
    assert len(_stored(engine)) == 5


@SQLITE_ONLY
def test_a_rolled_back_staged_write_leaves_nothing(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch, private_tempdir: Path
) -> None:
    _stage_every_write(monkeypatch, True)
    with pytest.raises(RuntimeError, match="after the write"), engine.begin() as conn:
        upsert_interactions(conn, interactions_frame(_first_load()), BASE)
        raise RuntimeError("after the write")
    assert _stored(engine) == []
    assert list(private_tempdir.iterdir()) == []
    with engine.connect() as conn:  # back from the pool without its scratch database
        attached = [row[1] for row in conn.exec_driver_sql("PRAGMA database_list")]
    assert sqlite_staging.SCRATCH_SCHEMA not in attached


@SQLITE_ONLY
def test_a_staged_write_meeting_a_stored_key_fails_whole_or_obeys_its_conflict_clause(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    _stage_every_write(monkeypatch, True)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE labels (key TEXT PRIMARY KEY, label TEXT)")
        conn.exec_driver_sql("INSERT INTO labels VALUES ('a', 'stored')")
    frame = pl.DataFrame({"key": ["b", "a", "c"], "label": ["new b", "new a", None]})
    with pytest.raises(sqlite3.IntegrityError), engine.begin() as conn:
        bulk_insert(conn, "labels", frame, "")
    with engine.begin() as conn:
        written = bulk_insert(conn, "labels", frame, "ON CONFLICT (key) DO NOTHING")
        stored = conn.exec_driver_sql("SELECT key, label FROM labels ORDER BY key").all()
    assert written == 2
    assert [tuple(r) for r in stored] == [("a", "stored"), ("b", "new b"), ("c", None)]


@SQLITE_ONLY
def test_concurrent_staged_writers_each_use_their_own_scratch(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    _stage_every_write(monkeypatch, True)
    errors: list[BaseException] = []

    def load(start: int) -> None:
        try:
            for batch in range(5):
                rows = [interaction(str(start + 10 * batch + n)) for n in range(10)]
                with engine.begin() as conn:
                    upsert_interactions(conn, interactions_frame(rows), BASE)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=load, args=(start,)) for start in (0, 1000)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(_stored(engine)) == 100


def test_the_threshold_variable_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(sqlite_staging.STAGED_MIN_ROWS_VARIABLE, "many")
    with pytest.raises(ValueError, match="SERVICELENS_SQLITE_STAGED_MIN_ROWS='many'"):
        sqlite_staging.staged_min_rows()
    monkeypatch.setenv(sqlite_staging.STAGED_MIN_ROWS_VARIABLE, "")
    assert sqlite_staging.staged_min_rows() == sqlite_staging.STAGED_MIN_ROWS


@SQLITE_ONLY
def test_a_scratch_database_that_cannot_be_written_falls_back_to_binding(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _stage_every_write(monkeypatch, True)

    def failing(frame: pl.DataFrame) -> Path:
        raise OSError("No space left on device")

    monkeypatch.setattr(sqlite_staging, "_write_scratch", failing)
    with engine.begin() as conn:
        counts = upsert_interactions(conn, interactions_frame(_first_load()), BASE)
    assert counts.inserted == 4
    assert len(_stored(engine)) == 4
    assert "No space left on device" in caplog.text
