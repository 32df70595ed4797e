"""Storing evaluated SLA clocks and reading them, and the slim event history the engine needs, into polars.

Results are replaced, never merged row by row: a full evaluation replaces every row, a re-evaluation of
changed interactions replaces exactly their rows (a reopen can add a cycle, a policy change can drop a
metric). Writes reuse the core tables' bulk path (COPY on PostgreSQL, one executemany on SQLite); reads
go through ADBC on PostgreSQL.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
import polars as pl
import sqlalchemy as sa

from servicelens.model import EVENT_SCHEMA, UTC_DATETIME
from sla.config import SlaConfig
from sla.evaluate import DETAIL_SCHEMA, RESULT_SCHEMA
from storage.sla_tables import sla_results
from storage.sqlio import (
    KEY_LOOKUP_CHUNK,
    as_utc,
    bulk_insert,
    chunks,
    connection_for,
    read_frame,
    read_table,
    to_db_frame,
)

STORED_SCHEMA: dict[str, pl.DataType] = {
    **RESULT_SCHEMA,
    "started_at": DETAIL_SCHEMA["started_at"],
    "calendar": DETAIL_SCHEMA["calendar"],
    "evaluated_at": UTC_DATETIME,
    "config_fingerprint": pl.String(),
}
STORED_COLUMNS = list(STORED_SCHEMA)
EVALUATED_COLUMNS = STORED_COLUMNS[:-2]  # what the engine delivers; the rest is added on write
CLOCK_EVENT_COLUMNS = ["interaction_id", "at", "type", "status"]
CLOCK_EVENT_SCHEMA: dict[str, pl.DataType] = {c: EVENT_SCHEMA[c] for c in CLOCK_EVENT_COLUMNS}


class SlaStoreError(ValueError):
    """Results that cannot be stored as given (missing columns, rows outside the replaced subset)."""


def config_fingerprint(config: SlaConfig) -> str:
    """A short stable hash of the ``sla:`` section: equal fingerprints mean equal policies and calendars."""
    text = config.model_dump_json()
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise SlaStoreError(f"evaluated_at {value.isoformat()} has no time zone")
    return value.astimezone(UTC)


def _prepared(results: pl.DataFrame, evaluated_at: datetime, fingerprint: str) -> pl.DataFrame:
    missing = [c for c in EVALUATED_COLUMNS if c not in results.columns]
    if missing:
        raise SlaStoreError(
            f"SLA results lack column(s) {missing}; store the output of sla.evaluate.evaluate_detailed"
        )
    return results.select(EVALUATED_COLUMNS).with_columns(
        pl.col("metric").cast(pl.String),
        pl.lit(_utc(evaluated_at)).cast(UTC_DATETIME).alias("evaluated_at"),
        pl.lit(fingerprint).alias("config_fingerprint"),
    )


def _delete_for(conn: sa.Connection, interaction_ids: Sequence[str]) -> int:
    cursor = conn.connection.cursor()
    ids = list(dict.fromkeys(interaction_ids))
    if conn.dialect.name == "postgresql":
        # One join against the ids as a JSON array walks the key once per id; ``= ANY(array)`` in chunks
        # can be planned as a sequential scan per chunk while the statistics predate a large load.
        cursor.execute(
            "DELETE FROM sla_results AS r USING json_array_elements_text(%s::json) AS wanted(id) "
            "WHERE r.interaction_id = wanted.id",
            (orjson.dumps(ids).decode(),),
        )
        return max(cursor.rowcount, 0)
    deleted = 0
    for chunk in chunks(ids, KEY_LOOKUP_CHUNK):
        marks = ", ".join("?" * len(chunk))
        cursor.execute(f"DELETE FROM sla_results WHERE interaction_id IN ({marks})", tuple(chunk))
        deleted += max(cursor.rowcount, 0)
    return deleted


def replace_results(
    conn: sa.Connection,
    results: pl.DataFrame,
    *,
    evaluated_at: datetime,
    fingerprint: str,
    interaction_ids: Sequence[str] | None = None,
) -> int:
    """Replace stored results with ``results`` (from ``evaluate_detailed``); returns rows written.

    ``interaction_ids=None`` replaces every stored row. Otherwise only the rows of those interactions are
    replaced (an id without result rows just loses its old rows); a result row of another interaction is
    an error, since it would silently overwrite a result outside the subset.
    """
    frame = _prepared(results, evaluated_at, fingerprint)
    if interaction_ids is None:
        conn.execute(sa.delete(sla_results))
    else:
        wanted = pl.Series("interaction_id", list(interaction_ids), dtype=pl.String)
        stray = frame.filter(~pl.col("interaction_id").is_in(wanted.implode()))
        if stray.height:
            raise SlaStoreError(
                f"{stray.height} result row(s) belong to interactions outside the replaced subset, "
                f"e.g. {stray['interaction_id'][0]!r}"
            )
        _delete_for(conn, wanted.to_list())
    if frame.is_empty():
        return 0
    return bulk_insert(conn, "sla_results", to_db_frame(frame, conn), "")


def read_results(
    bind: sa.Engine | sa.Connection, interaction_ids: Sequence[str] | None = None
) -> pl.DataFrame:
    """Stored results (all, or of the given interactions) in :data:`STORED_SCHEMA`."""
    base = f"SELECT {', '.join(STORED_COLUMNS)} FROM sla_results"
    if interaction_ids is None:
        return read_table(bind, base, STORED_SCHEMA).select(STORED_COLUMNS)
    with connection_for(bind) as conn:
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        parts = [
            read_frame(
                conn,
                f"{base} WHERE interaction_id IN ({', '.join([mark] * len(chunk))})",
                chunk,
                STORED_SCHEMA,
            )
            for chunk in chunks(list(dict.fromkeys(interaction_ids)), KEY_LOOKUP_CHUNK)
        ]
        return pl.concat(parts) if parts else pl.DataFrame(schema=STORED_SCHEMA)


def read_clock_events(bind: sa.Engine | sa.Connection) -> pl.DataFrame:
    """Every event without its text (``interaction_id, at, type, status``): all the SLA engine reads."""
    sql = f"SELECT {', '.join(CLOCK_EVENT_COLUMNS)} FROM interaction_events"
    return read_table(bind, sql, CLOCK_EVENT_SCHEMA).select(CLOCK_EVENT_COLUMNS)


@dataclass(frozen=True)
class EvaluationInfo:
    """What the stored results are: how many, when evaluated, under which configurations."""

    rows: int
    first_evaluated_at: datetime | None
    last_evaluated_at: datetime | None
    fingerprints: tuple[str, ...]


def evaluation_info(bind: sa.Engine | sa.Connection) -> EvaluationInfo:
    t = sla_results
    with connection_for(bind) as conn:
        rows, first, last = conn.execute(
            sa.select(sa.func.count(), sa.func.min(t.c.evaluated_at), sa.func.max(t.c.evaluated_at))
        ).one()
        prints = conn.execute(sa.select(t.c.config_fingerprint).distinct()).scalars().all()
    return EvaluationInfo(int(rows), as_utc(first), as_utc(last), tuple(sorted(prints)))
