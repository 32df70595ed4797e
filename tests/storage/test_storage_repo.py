"""Storage behaviour, run on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest
import sqlalchemy as sa

from storage import runs
from storage.db import make_engine, upgrade
from storage.repo import insert_events, read_events, read_interactions, upsert_interactions
from tests.builders import BASE, event, events_frame, interaction, interactions_frame


@pytest.fixture
def engine(db_url: str) -> sa.Engine:
    eng = make_engine(db_url)
    upgrade(eng)
    yield eng
    eng.dispose()


def test_upgrade_is_repeatable_and_creates_core_tables(engine: sa.Engine) -> None:
    upgrade(engine)
    names = set(sa.inspect(engine).get_table_names())
    assert {"interactions", "interaction_events", "quarantine", "ingest_runs", "bookmarks"} <= names


def test_sqlite_pragmas(tmp_path) -> None:
    eng = make_engine(f"sqlite:///{tmp_path / 'sub' / 'x.db'}")
    with eng.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000


def test_round_trip_keeps_every_field(engine: sa.Engine) -> None:
    rows = [
        interaction("1"),
        interaction(
            "2",
            csat=None,
            nps=None,
            ces=None,
            tags=[],
            resolved_at=None,
            first_response_at=None,
            status="open",
            channel="chat",
        ),
    ]
    with engine.begin() as conn:
        upsert_interactions(conn, interactions_frame(rows))
    got = read_interactions(engine).sort("interaction_id")
    assert got.schema == interactions_frame(rows).schema
    assert got.to_dicts() == interactions_frame(rows).to_dicts()


def test_newer_wins_older_never_replaces(engine: sa.Engine) -> None:
    v1 = interaction("1", status="open", updated_at=BASE + timedelta(hours=1))
    v2 = interaction("1", status="solved", updated_at=BASE + timedelta(hours=2))
    with engine.begin() as conn:
        assert upsert_interactions(conn, interactions_frame([v1])).inserted == 1
        assert upsert_interactions(conn, interactions_frame([v2])).updated == 1
        counts = upsert_interactions(conn, interactions_frame([v1]))
    assert (counts.inserted, counts.updated, counts.unchanged) == (0, 0, 1)
    assert read_interactions(engine)["status"].to_list() == ["solved"]


def test_equal_updated_at_is_resolved_independently_of_order(engine: sa.Engine, db_url: str) -> None:
    a = interaction("1", subject="A")
    b = interaction("1", subject="B")
    with engine.begin() as conn:
        upsert_interactions(conn, interactions_frame([a]))
        upsert_interactions(conn, interactions_frame([b]))
    first = read_interactions(engine)["subject"].to_list()
    with engine.begin() as conn:
        conn.execute(sa.text("delete from interactions"))
        upsert_interactions(conn, interactions_frame([b]))
        upsert_interactions(conn, interactions_frame([a]))
    assert read_interactions(engine)["subject"].to_list() == first


def test_batches_larger_than_lookup_chunk(engine: sa.Engine) -> None:
    rows = [interaction(str(i)) for i in range(4500)]
    with engine.begin() as conn:
        assert upsert_interactions(conn, interactions_frame(rows)).inserted == 4500
        assert upsert_interactions(conn, interactions_frame(rows)).unchanged == 4500
    assert read_interactions(engine).height == 4500


def test_events_are_stored_once_and_read_in_order(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        upsert_interactions(conn, interactions_frame([interaction("1"), interaction("2")]))
        evs = events_frame(
            [
                event("generic:1", BASE + timedelta(minutes=30), "agent_reply", body="Hi"),
                event("generic:1", BASE, "customer_message", author="cust", body="Help"),
                event("generic:2", BASE, "status_change", status="open"),
            ]
        )
        assert insert_events(conn, evs) == 3
        assert insert_events(conn, evs) == 0
    got = read_events(engine)
    assert got.height == 3
    only_one = read_events(engine, ["generic:1"])
    assert only_one["type"].to_list() == ["customer_message", "agent_reply"]


def test_events_need_their_interaction(engine: sa.Engine) -> None:
    with pytest.raises(Exception, match=r"(?i)foreign key"), engine.begin() as conn:
        insert_events(conn, events_frame([event("generic:missing", BASE, "agent_reply")]))


def test_bookmark_and_runs(engine: sa.Engine) -> None:
    run_id = runs.start_run(engine, "zendesk", BASE)
    with engine.begin() as conn:
        runs.set_bookmark(conn, "zendesk", "cursor-1", BASE)
        runs.set_bookmark(conn, "zendesk", "cursor-2", BASE)
    runs.finish_run(
        engine, run_id, "succeeded", runs.RunCounts(read=3, inserted=2), BASE + timedelta(minutes=1)
    )
    assert runs.get_bookmark(engine, "zendesk") == "cursor-2"
    table = runs.read_runs(engine)
    assert table.select("connector", "status", "read", "inserted").row(0) == ("zendesk", "succeeded", 3, 2)


def test_bookmark_rolls_back_with_its_batch(engine: sa.Engine) -> None:
    with pytest.raises(RuntimeError), engine.begin() as conn:
        upsert_interactions(conn, interactions_frame([interaction("1")]))
        runs.set_bookmark(conn, "zendesk", "cursor-9", BASE)
        raise RuntimeError("crash before commit")
    assert runs.get_bookmark(engine, "zendesk") is None
    assert read_interactions(engine).height == 0


def test_read_interactions_empty_database(engine: sa.Engine) -> None:
    got = read_interactions(engine)
    assert got.height == 0
    assert isinstance(got.schema["created_at"], pl.Datetime)


@pytest.mark.parametrize("order", ["old_first", "new_first"])
def test_survey_answers_are_never_erased_by_a_version_without_them(engine: sa.Engine, order: str) -> None:
    rated = interaction("1", csat=2, nps=3, ces=None, updated_at=BASE + timedelta(hours=1))
    newer_unrated = interaction(
        "1", status="closed", csat=None, nps=None, ces=5, updated_at=BASE + timedelta(hours=5)
    )
    versions = [rated, newer_unrated] if order == "old_first" else [newer_unrated, rated]
    with engine.begin() as conn:
        first = upsert_interactions(conn, interactions_frame([versions[0]]))
        second = upsert_interactions(conn, interactions_frame([versions[1]]))
        again = upsert_interactions(conn, interactions_frame(versions))
    assert first.inserted == 1 and second.updated == 1
    assert (again.inserted, again.updated) == (0, 0)
    row = read_interactions(engine).row(0, named=True)
    assert (row["status"], row["csat"], row["nps"], row["ces"]) == ("closed", 2, 3, 5)


def test_a_newer_answer_replaces_an_older_one(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        upsert_interactions(conn, interactions_frame([interaction("1", csat=2, updated_at=BASE)]))
        upsert_interactions(
            conn, interactions_frame([interaction("1", csat=5, updated_at=BASE + timedelta(days=1))])
        )
        upsert_interactions(
            conn, interactions_frame([interaction("1", csat=1, updated_at=BASE - timedelta(days=1))])
        )
    assert read_interactions(engine)["csat"].to_list() == [5]
