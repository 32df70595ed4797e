"""The core tables: interaction upserts (newer wins, survey answers kept), events stored once, reads into
polars in the canonical schema. The dialect-level I/O lives in :mod:`storage.sqlio`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import polars as pl
import polars_hash
import sqlalchemy as sa

from servicelens.model import EVENT_SCHEMA, INTERACTION_SCHEMA, UTC_DATETIME
from storage import tables
from storage.sqlio import (
    KEY_LOOKUP_CHUNK,
    as_utc,
    bulk_insert,
    chunks,
    connection_for,
    copy_rows,
    execute_many,
    placeholder,
    read_frame,
    read_table,
    to_db_frame,
    utcnow,
)
from storage.sqlite_staging import can_stage, staged_insert

INTERACTION_COLUMNS = list(INTERACTION_SCHEMA)
EVENT_COLUMNS = list(EVENT_SCHEMA)
SURVEY_COLUMNS = ("csat", "nps", "ces")


@dataclass(frozen=True)
class UpsertCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    def __add__(self, other: UpsertCounts) -> UpsertCounts:
        return UpsertCounts(
            self.inserted + other.inserted, self.updated + other.updated, self.unchanged + other.unchanged
        )


# The row encoding of polars-hash's ``hash_rows`` is versioned and frozen per version, so a stored hash stays
# valid across library upgrades (tests/storage/test_content_hash.py pins known values).
ROW_ENCODING_VERSION = 1


def content_hash_expr(columns: Sequence[str], digest_size: int = 16) -> pl.Expr:
    """A stable fingerprint of each row: SHA-256 of an unambiguous encoding of the ``columns``' values
    (nulls, empty strings and lists all distinct), as ``2 * digest_size`` hex characters."""
    encoded = polars_hash.hash_rows([pl.col(c) for c in columns], version=ROW_ENCODING_VERSION)
    return encoded.chash.sha2_256().str.slice(0, 2 * digest_size)


def content_hash(frame: pl.DataFrame, columns: Sequence[str], digest_size: int = 16) -> pl.Series:
    """:func:`content_hash_expr` of ``frame``'s rows."""
    return frame.select(content_hash_expr(columns, digest_size).alias("hash")).to_series()


def _stored_rows(conn: sa.Connection, columns: Sequence[str], ids: Sequence[str]) -> list[tuple[Any, ...]]:
    """``columns`` of the stored interactions among ``ids``, in one statement.

    The ids travel as one JSON array joined to the primary key, which each id then probes once (sorted ids
    probe neighbouring pages). On PostgreSQL ``= ANY(array)`` in chunks was planned as a sequential scan per
    chunk while the statistics still described the table before a large load (minutes at 1M rows); on
    SQLite, chunks of ``IN`` lists cost more than one join.
    """
    if not ids:
        return []
    wanted = (
        "json_array_elements_text(%s::json) AS wanted(id)"
        if conn.dialect.name == "postgresql"
        else "(SELECT value AS id FROM json_each(?)) AS wanted"
    )
    cursor = conn.connection.cursor()
    cursor.execute(
        f"SELECT {', '.join(f'i.{c}' for c in columns)} FROM {wanted} "
        "JOIN interactions AS i ON i.interaction_id = wanted.id",
        (orjson.dumps(list(ids)).decode(),),
    )
    return list(cursor.fetchall())


def _existing_versions(conn: sa.Connection, ids: Sequence[str]) -> pl.DataFrame:
    schema: dict[str, Any] = {
        "interaction_id": pl.String,
        "old_updated_at": pl.Datetime("us", "UTC"),
        "old_hash": pl.String,
        **{f"old_{name}": pl.Int64 for name in SURVEY_COLUMNS},
    }
    columns = ["interaction_id", "updated_at", "row_hash", *SURVEY_COLUMNS]
    rows = [(r[0], as_utc(r[1]), *r[2:]) for r in _stored_rows(conn, columns, ids)]
    return pl.DataFrame(rows, schema=schema, orient="row")


@dataclass(frozen=True)
class PreparedInteractions:
    """Incoming interactions reduced to one version each, hashed and converted for the database: the part
    of an upsert that needs no connection, so a loader can run it while the previous batch is written."""

    rows: pl.DataFrame  # INTERACTION_COLUMNS and row_hash, sorted by interaction_id
    db_rows: pl.DataFrame  # the same rows, in the same order, as the DBAPI of ``dialect`` binds them
    dialect: str


def prepare_interactions(frame: pl.DataFrame, dialect: str) -> PreparedInteractions:
    """Hash each row, keep the winning version of each interaction (survey answers carried forward) and
    convert the rows for ``dialect``'s DBAPI. ``frame`` must already be valid and in INTERACTION_SCHEMA."""
    rows = frame.select(*INTERACTION_COLUMNS, content_hash_expr(INTERACTION_COLUMNS).alias("row_hash"))
    # Sorted by id, the rows reach the primary key's b-tree in order.
    if rows["interaction_id"].n_unique() == rows.height:
        rows = rows.sort("interaction_id")
    else:
        rows = rows.sort(["interaction_id", "updated_at", "row_hash"])
        # Carry each version's survey answers forward so the newest version holds the latest known answers.
        rows = rows.with_columns([pl.col(c).forward_fill().over("interaction_id") for c in SURVEY_COLUMNS])
        rows = rows.unique("interaction_id", keep="last", maintain_order=True)
    return PreparedInteractions(rows, to_db_frame(rows, dialect), dialect)


def upsert_interactions(
    conn: sa.Connection, frame: pl.DataFrame | PreparedInteractions, now: datetime | None = None
) -> UpsertCounts:
    """Insert new interactions and update those whose incoming version is newer.

    The winner between two versions of one interaction is the one with the later ``updated_at``; on equal
    ``updated_at`` the larger content hash wins, so the result never depends on arrival order. Older data never
    replaces newer data. Survey answers (csat, nps, ces) are the exception: an answer is never erased by a
    version that lacks it (exports often leave them out), so the latest known answer is kept whatever the
    order. ``frame`` must already be valid and in INTERACTION_SCHEMA, or prepared by
    :func:`prepare_interactions`.
    """
    if isinstance(frame, pl.DataFrame):
        if frame.is_empty():
            return UpsertCounts()
        frame = prepare_interactions(frame, conn.dialect.name)
    prepared = frame
    if prepared.dialect != conn.dialect.name:
        prepared = PreparedInteractions(prepared.rows, to_db_frame(prepared.rows, conn), conn.dialect.name)
    if prepared.rows.is_empty():
        return UpsertCounts()
    if _copied_as_all_new(conn, prepared, now):
        return UpsertCounts(inserted=prepared.rows.height)
    incoming = prepared.rows.with_row_index("_row")  # position in db_rows
    existing = _existing_versions(conn, incoming["interaction_id"].to_list())
    # Any row order: rows are written by their _row position.
    joined = incoming.join(existing, on="interaction_id", how="left")
    is_new = pl.col("old_hash").is_null()
    is_newer = (pl.col("updated_at") > pl.col("old_updated_at")) | (
        (pl.col("updated_at") == pl.col("old_updated_at")) & (pl.col("row_hash") > pl.col("old_hash"))
    )
    joined = joined.with_columns(
        action=pl.when(is_new)
        .then(pl.lit("insert"))
        .when(is_newer)
        .then(pl.lit("update"))
        .otherwise(pl.lit("keep"))
    )
    fills_an_answer = pl.any_horizontal(
        [pl.col(f"old_{c}").is_null() & pl.col(c).is_not_null() for c in SURVEY_COLUMNS]
    )
    joined = joined.with_columns(
        action=pl.when((pl.col("action") == "keep") & fills_an_answer)
        .then(pl.lit("fill"))
        .otherwise(pl.col("action"))
    )
    counts = joined["action"].value_counts()
    by_action = dict(zip(counts["action"].to_list(), counts["count"].to_list(), strict=True))
    written = joined.filter(pl.col("action").is_in(["insert", "update"]))["_row"].sort()
    if written.len():
        db_frame = _with_ingested_at(prepared.db_rows[written], conn, now)
        all_new = by_action.get("update", 0) == 0
        if not (all_new and _copy_new_rows(conn, "interactions", db_frame)):
            _write_upsert(conn, db_frame)
    to_fill = joined.filter(pl.col("action") == "fill").select("interaction_id", *SURVEY_COLUMNS)
    if to_fill.height:
        _fill_answers(conn, to_fill)
    return UpsertCounts(
        by_action.get("insert", 0),
        by_action.get("update", 0) + by_action.get("fill", 0),
        by_action.get("keep", 0),
    )


# Ids probed before a batch is copied without looking up every id (see _copied_as_all_new).
NEW_BATCH_PROBE = 1000


def _with_ingested_at(db_rows: pl.DataFrame, conn: sa.Connection, now: datetime | None) -> pl.DataFrame:
    stamp = pl.DataFrame({"ingested_at": [now or utcnow()]}, schema={"ingested_at": UTC_DATETIME})
    return db_rows.with_columns(pl.lit(to_db_frame(stamp, conn)["ingested_at"][0]).alias("ingested_at"))


def _copied_as_all_new(conn: sa.Connection, prepared: PreparedInteractions, now: datetime | None) -> bool:
    """Write a batch that looks entirely new without looking up each of its ids.

    When none of :data:`NEW_BATCH_PROBE` ids spread over the batch is stored (a first load, or a source
    that only brings new interactions), the whole batch goes straight into the table: PostgreSQL's COPY, or
    SQLite's staged INSERT. A write that meets a stored id fails and is undone, and the caller takes the
    general path: the result is always the same, only the cost differs.
    """
    if not _can_copy(conn, prepared.rows.height):
        return False
    ids = prepared.rows["interaction_id"]
    probe = ids.gather_every(max(1, ids.len() // NEW_BATCH_PROBE)).to_list()
    if _stored_rows(conn, ["interaction_id"], probe):
        return False
    return _copy_new_rows(conn, "interactions", _with_ingested_at(prepared.db_rows, conn, now))


def _can_copy(conn: sa.Connection, rows: int) -> bool:
    """Whether rows can be written without a conflict clause, the write being undone whole if one conflicts."""
    return conn.dialect.name == "postgresql" or can_stage(conn, rows)


def _fill_answers(conn: sa.Connection, frame: pl.DataFrame) -> None:
    """Give an older version's survey answers to stored rows that lack them (nothing else changes)."""
    ph = placeholder(conn)
    sets = ", ".join(f"{c} = COALESCE({c}, {ph})" for c in SURVEY_COLUMNS)
    rows = frame.select(*SURVEY_COLUMNS, "interaction_id").iter_rows()
    execute_many(conn, f"UPDATE interactions SET {sets} WHERE interaction_id = {ph}", rows)


def _copy_new_rows(conn: sa.Connection, table: str, frame: pl.DataFrame) -> bool:
    """Write rows that were not stored at lookup time straight into ``table``, without a conflict check.

    PostgreSQL: COPY, undone to its savepoint if another writer stored one of the keys since the lookup.
    SQLite: one staged INSERT (:mod:`storage.sqlite_staging`), which SQLite undoes whole when it fails; where
    staging does not apply nothing is written. False tells the caller to upsert instead.
    """
    if conn.dialect.name == "sqlite":
        if not can_stage(conn, frame.height):
            return False
        try:
            return staged_insert(conn, table, frame, "") is not None
        except sqlite3.IntegrityError:
            return False
    if conn.dialect.name != "postgresql":
        return False
    import psycopg.errors  # only present where PostgreSQL is used

    cursor = conn.connection.cursor()
    cursor.execute("SAVEPOINT servicelens_copy_new")
    try:
        copy_rows(cursor, table, frame)
    except psycopg.errors.UniqueViolation:
        cursor.execute("ROLLBACK TO SAVEPOINT servicelens_copy_new")
        return False
    cursor.execute("RELEASE SAVEPOINT servicelens_copy_new")
    return True


def _write_upsert(conn: sa.Connection, frame: pl.DataFrame) -> None:
    keys = ("interaction_id", "source", "external_id")
    updates = ", ".join(
        f"{c} = COALESCE(excluded.{c}, interactions.{c})" if c in SURVEY_COLUMNS else f"{c} = excluded.{c}"
        for c in frame.columns
        if c not in keys
    )
    # The guard repeats the newer-wins rule inside the statement, so a concurrent writer cannot regress a row.
    # The conflict target is the primary key: interaction_id is source:external_id with a source that never
    # contains ':' (validated), so it identifies exactly one (source, external_id).
    bulk_insert(
        conn,
        "interactions",
        frame,
        f"ON CONFLICT (interaction_id) DO UPDATE SET {updates} "
        "WHERE excluded.updated_at > interactions.updated_at OR "
        "(excluded.updated_at = interactions.updated_at AND excluded.row_hash > interactions.row_hash)",
    )


def insert_events(conn: sa.Connection, frame: pl.DataFrame) -> int:
    """Insert events not stored yet (identified by a hash of all their fields); returns how many were new."""
    if frame.is_empty():
        return 0
    frame = frame.select(*EVENT_COLUMNS, content_hash_expr(EVENT_COLUMNS, digest_size=20).alias("event_key"))
    frame = frame.unique("event_key", keep="first", maintain_order=True)
    return bulk_insert(
        conn, "interaction_events", to_db_frame(frame, conn), "ON CONFLICT (event_key) DO NOTHING"
    )


def existing_interaction_ids(conn: sa.Connection, ids: Sequence[str]) -> set[str]:
    return {row[0] for row in _stored_rows(conn, ["interaction_id"], list(dict.fromkeys(ids)))}


def read_interactions(engine: sa.Engine | sa.Connection) -> pl.DataFrame:
    """All interactions in the canonical schema."""
    return read_table(
        engine, f"SELECT {', '.join(INTERACTION_COLUMNS)} FROM interactions", INTERACTION_SCHEMA
    )


def read_events(
    engine: sa.Engine | sa.Connection, interaction_ids: Sequence[str] | None = None
) -> pl.DataFrame:
    """Events (all, or of the given interactions) in the canonical schema, ordered by interaction and time."""
    base = f"SELECT {', '.join(EVENT_COLUMNS)} FROM interaction_events"
    order = " ORDER BY interaction_id, at"
    if interaction_ids is None:
        return read_table(engine, base + order, EVENT_SCHEMA)
    with connection_for(engine) as conn:
        ph = placeholder(conn)
        parts = [
            read_frame(
                conn,
                f"{base} WHERE interaction_id IN ({', '.join([ph] * len(chunk))}){order}",
                chunk,
                EVENT_SCHEMA,
            )
            for chunk in chunks(list(interaction_ids), KEY_LOOKUP_CHUNK)
        ]
        return pl.concat(parts) if parts else pl.DataFrame(schema=EVENT_SCHEMA)


def last_ingest_at(engine: sa.Engine | sa.Connection) -> datetime | None:
    t = tables.ingest_runs
    with connection_for(engine) as conn:
        value = conn.execute(
            sa.select(sa.func.max(t.c.finished_at)).where(t.c.status == "succeeded")
        ).scalar()
    return as_utc(value)
