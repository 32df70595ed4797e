"""Content hashes: stable values, distinct rows stay distinct, and migration 0005 rewrites stored hashes.
Also the timestamp text written to SQLite."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import polars as pl
import sqlalchemy as sa
from alembic import command
from hypothesis import given, settings
from hypothesis import strategies as st

from servicelens.model import INTERACTION_SCHEMA, UTC_DATETIME
from storage.db import alembic_config, upgrade
from storage.repo import (
    EVENT_COLUMNS,
    INTERACTION_COLUMNS,
    content_hash,
    insert_events,
    upsert_interactions,
)
from storage.sqlio import SQLITE_TS_FORMAT, to_db_frame
from tests.builders import BASE, event, events_frame, interaction, interactions_frame


def _interactions() -> pl.DataFrame:
    return interactions_frame([interaction("1"), interaction("2", tags=[], csat=None, subject="")])


def _events() -> pl.DataFrame:
    return events_frame(
        [
            event("generic:1", BASE, "agent_reply", body="Hello"),
            event("generic:1", BASE, "status_change", status="solved", author=None),
            event("generic:2", BASE + timedelta(minutes=5), "customer_message", body="Thanks"),
        ]
    )


def test_hashes_are_pinned_so_a_library_upgrade_cannot_change_stored_keys() -> None:
    # Stored row hashes and event keys must never change for the same content: were these values to move,
    # every event loaded again would be stored twice.
    assert content_hash(_interactions(), INTERACTION_COLUMNS).to_list() == [
        "6bfbb63c9d93f319c376d511f9622604",
        "acab1fdbd046f5bfd1f44a6929428782",
    ]
    assert content_hash(_events().head(2), EVENT_COLUMNS, digest_size=20).to_list() == [
        "38a989fbb0f2e384b6b72f4d017fd5ee23c35e88",
        "df2e8cbe1bee27c4f6319c52487a3407c1c2208c",
    ]


def test_values_that_print_alike_hash_differently() -> None:
    frame = pl.DataFrame(
        {
            "a": ["ab", "a", None, "", "\x00", "x", "x"],
            "b": ["c", "bc", "", None, "", "y", "y"],
            "tags": [["t"], ["t"], ["t"], ["t"], ["t"], [], None],
        },
        schema={"a": pl.String, "b": pl.String, "tags": pl.List(pl.String)},
    )
    hashes = content_hash(frame, ["a", "b", "tags"]).to_list()
    assert len(set(hashes)) == frame.height


texts = st.one_of(st.none(), st.text(max_size=4))


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(st.tuples(texts, texts, st.one_of(st.none(), st.integers(0, 10))), min_size=1, max_size=8)
)
def test_hashes_are_equal_exactly_when_rows_are_equal(
    rows: list[tuple[str | None, str | None, int | None]],
) -> None:
    frame = pl.DataFrame(rows, schema={"a": pl.String, "b": pl.String, "n": pl.Int64}, orient="row")
    hashes = content_hash(frame, ["a", "b", "n"]).to_list()
    for i in range(len(rows)):
        for j in range(len(rows)):
            assert (hashes[i] == hashes[j]) == (rows[i] == rows[j])


def _blake2b_of_text(frame: pl.DataFrame, columns: list[str], digest_size: int) -> list[str]:
    """The hashes stored before migration 0005, computed independently of the migration's code."""
    out = []
    for row in frame.iter_rows(named=True):
        fields = []
        for name in columns:
            value = row[name]
            if isinstance(value, list):
                fields.append("\x1e".join(value))
            elif value is None:
                fields.append("\x00")
            else:
                fields.append(str(pl.Series([value], dtype=frame.schema[name]).cast(pl.String)[0]))
        text = "\x1f".join(fields).encode()
        out.append(hashlib.blake2b(text, digest_size=digest_size).hexdigest())
    return out


def _stored(engine: sa.Engine) -> tuple[dict[str, str], list[str]]:
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT interaction_id, row_hash FROM interactions").all()
        row_hashes: dict[str, str] = {interaction_id: row_hash for interaction_id, row_hash in rows}
        keys = sorted(conn.exec_driver_sql("SELECT event_key FROM interaction_events").scalars())
    return row_hashes, keys


def test_migration_0005_rewrites_stored_hashes_both_ways(engine: sa.Engine) -> None:
    interactions, events = _interactions(), _events()
    with engine.begin() as conn:
        upsert_interactions(conn, interactions)
        insert_events(conn, events)

    command.downgrade(alembic_config(engine), "0004_ingest_indexes")
    row_hashes, keys = _stored(engine)
    old_rows = dict(
        zip(
            interactions["interaction_id"],
            _blake2b_of_text(interactions, INTERACTION_COLUMNS, 16),
            strict=True,
        )
    )
    assert row_hashes == old_rows
    assert keys == sorted(_blake2b_of_text(events, EVENT_COLUMNS, 20))

    upgrade(engine)
    row_hashes, keys = _stored(engine)
    new_rows = dict(
        zip(interactions["interaction_id"], content_hash(interactions, INTERACTION_COLUMNS), strict=True)
    )
    assert row_hashes == new_rows
    assert keys == sorted(content_hash(events, EVENT_COLUMNS, digest_size=20).to_list())
    # Loading the same data again after the migration stores nothing twice and changes nothing.
    with engine.begin() as conn:
        counts = upsert_interactions(conn, interactions)
        assert insert_events(conn, events) == 0
    assert (counts.inserted, counts.updated, counts.unchanged) == (0, 0, 2)
    assert set(INTERACTION_SCHEMA) == set(INTERACTION_COLUMNS)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(-(10**16), 10**16)), min_size=1, max_size=50))
def test_sqlite_timestamp_text_is_the_stored_format(micros: list[int | None]) -> None:
    frame = pl.DataFrame({"at": micros}, schema={"at": pl.Int64}).select(pl.col("at").cast(UTC_DATETIME))
    expected = frame.select(pl.col("at").dt.strftime(SQLITE_TS_FORMAT))["at"]
    assert to_db_frame(frame, "sqlite")["at"].to_list() == expected.to_list()
