"""Batched writes and fast reads of the core tables.

Writes go through the DBAPI in batches (``executemany``) with SQL that both SQLite and PostgreSQL accept
(``INSERT .. ON CONFLICT``). Reads come back as polars frames in the canonical schema.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import polars as pl
import sqlalchemy as sa

from servicelens.model import EVENT_SCHEMA, INTERACTION_SCHEMA
from storage import tables

INTERACTION_COLUMNS = list(INTERACTION_SCHEMA)
EVENT_COLUMNS = list(EVENT_SCHEMA)
TIMESTAMP_COLUMNS = [c for c, t in INTERACTION_SCHEMA.items() if isinstance(t, pl.Datetime)]
SQLITE_TS_FORMAT = "%Y-%m-%d %H:%M:%S%.6f"
KEY_LOOKUP_CHUNK = 5000
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


def utcnow() -> datetime:
    return datetime.now(UTC)


def _placeholder(conn: sa.Connection) -> str:
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


def _chunks(values: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _hash_strings(values: pl.Series, digest_size: int) -> pl.Series:
    blake2b = hashlib.blake2b
    # UTF-8 bytes straight from polars: no per-row str.encode.
    as_bytes = values.cast(pl.Binary).to_list()
    return pl.Series([blake2b(v, digest_size=digest_size).hexdigest() for v in as_bytes], dtype=pl.String)


def content_hash(frame: pl.DataFrame, columns: Sequence[str], digest_size: int = 16) -> pl.Series:
    """A stable fingerprint of each row (blake2b over a canonical text form, stable across versions)."""
    parts = [
        (
            pl.col(c).list.join("\x1e") if isinstance(frame.schema[c], pl.List) else pl.col(c).cast(pl.String)
        ).fill_null("\x00")
        for c in columns
    ]
    text = pl.concat_str(parts, separator="\x1f").alias("text")
    return _hash_strings(frame.select(text).to_series(), digest_size)


def _to_db_frame(frame: pl.DataFrame, conn: sa.Connection) -> pl.DataFrame:
    """Convert to values the DBAPI binds directly: timestamps as UTC text on SQLite, tags as JSON."""
    exprs: list[pl.Expr] = []
    for name, dtype in frame.schema.items():
        col = pl.col(name)
        if isinstance(dtype, pl.Datetime):
            exprs.append(
                col.dt.convert_time_zone("UTC").dt.strftime(SQLITE_TS_FORMAT)
                if conn.dialect.name == "sqlite"
                else col
            )
        elif isinstance(dtype, pl.List):
            # struct JSON is {"name":[...]}: keep only the array part, vectorised.
            as_json = pl.struct(col.fill_null([])).struct.json_encode().str.slice(len(name) + 4)
            exprs.append(as_json.str.head(-1).alias(name))
        else:
            exprs.append(col)
    return frame.select(exprs)


def _existing_versions(conn: sa.Connection, ids: Sequence[str]) -> pl.DataFrame:
    schema: dict[str, Any] = {
        "interaction_id": pl.String,
        "old_updated_at": pl.Datetime("us", "UTC"),
        "old_hash": pl.String,
        **{f"old_{name}": pl.Int64 for name in SURVEY_COLUMNS},
    }
    columns = f"interaction_id, updated_at, row_hash, {', '.join(SURVEY_COLUMNS)}"
    rows: list[tuple[Any, ...]] = []
    cursor = conn.connection.cursor()
    for chunk in _chunks(ids, KEY_LOOKUP_CHUNK):
        if conn.dialect.name == "postgresql":
            cursor.execute(
                f"SELECT {columns} FROM interactions WHERE interaction_id = ANY(%s)",
                (list(chunk),),
            )
        else:
            marks = ", ".join("?" * len(chunk))
            cursor.execute(
                f"SELECT {columns} FROM interactions WHERE interaction_id IN ({marks})", tuple(chunk)
            )
        rows.extend((r[0], _as_utc(r[1]), *r[2:]) for r in cursor.fetchall())
    return pl.DataFrame(rows, schema=schema, orient="row")


def _as_utc(value: datetime | str | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def upsert_interactions(
    conn: sa.Connection, frame: pl.DataFrame, now: datetime | None = None
) -> UpsertCounts:
    """Insert new interactions and update those whose incoming version is newer.

    The winner between two versions of one interaction is the one with the later ``updated_at``; on equal
    ``updated_at`` the larger content hash wins, so the result never depends on arrival order. Older data never
    replaces newer data. Survey answers (csat, nps, ces) are the exception: an answer is never erased by a
    version that lacks it (exports often leave them out), so the latest known answer is kept whatever the
    order. ``frame`` must already be valid and in INTERACTION_SCHEMA.
    """
    if frame.is_empty():
        return UpsertCounts()
    frame = frame.select(INTERACTION_COLUMNS).with_columns(row_hash=content_hash(frame, INTERACTION_COLUMNS))
    frame = frame.sort(["interaction_id", "updated_at", "row_hash"])
    # Carry each version's survey answers forward so the newest version holds the latest known answers.
    frame = frame.with_columns([pl.col(c).forward_fill().over("interaction_id") for c in SURVEY_COLUMNS])
    frame = frame.unique("interaction_id", keep="last")
    existing = _existing_versions(conn, frame["interaction_id"].to_list())
    joined = frame.join(existing, on="interaction_id", how="left")
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
    to_write = joined.filter(pl.col("action").is_in(["insert", "update"])).select(
        [*INTERACTION_COLUMNS, "row_hash"]
    )
    if to_write.height:
        stamp = now or utcnow()
        to_write = to_write.with_columns(ingested_at=pl.lit(stamp).cast(pl.Datetime("us", "UTC")))
        db_frame = _to_db_frame(to_write, conn)
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


def _fill_answers(conn: sa.Connection, frame: pl.DataFrame) -> None:
    """Give an older version's survey answers to stored rows that lack them (nothing else changes)."""
    ph = _placeholder(conn)
    sets = ", ".join(f"{c} = COALESCE({c}, {ph})" for c in SURVEY_COLUMNS)
    rows = frame.select(*SURVEY_COLUMNS, "interaction_id").iter_rows()
    _execute_many(conn, f"UPDATE interactions SET {sets} WHERE interaction_id = {ph}", rows)


def _execute_many(conn: sa.Connection, sql: str, rows: Iterable[tuple[Any, ...]]) -> int:
    """executemany fed by an iterator, so a batch is never copied whole into Python tuples.

    sqlite3 and psycopg both take any iterable; SQLAlchemy's DBAPI protocol only promises sequences.
    """
    cursor: Any = conn.connection.cursor()
    cursor.executemany(sql, rows)
    return int(cursor.rowcount)


def _bulk_insert(conn: sa.Connection, table: str, frame: pl.DataFrame, on_conflict: str) -> int:
    """INSERT the frame's rows with an ON CONFLICT clause; returns how many rows were written.

    PostgreSQL: COPY into a session temp table, then one INSERT .. SELECT (an order of magnitude faster than
    row-by-row binds). SQLite: one executemany of a prepared statement.
    """
    cols = ", ".join(frame.columns)
    cursor = conn.connection.cursor()
    if conn.dialect.name == "postgresql":
        staging = f"_staging_{table}"
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {staging} (LIKE {table} INCLUDING DEFAULTS)")
        cursor.execute(f"TRUNCATE {staging}")
        with cursor.copy(f"COPY {staging} ({cols}) FROM STDIN WITH (FORMAT csv)") as copy:
            copy.write(frame.write_csv(include_header=False))
        cursor.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {staging} {on_conflict}")
        written = cursor.rowcount
        cursor.execute(f"TRUNCATE {staging}")
        return int(written)
    marks = ", ".join("?" * frame.width)
    return _execute_many(
        conn, f"INSERT INTO {table} ({cols}) VALUES ({marks}) {on_conflict}", frame.iter_rows()
    )


def _copy_new_rows(conn: sa.Connection, table: str, frame: pl.DataFrame) -> bool:
    """PostgreSQL: COPY rows that were not stored at lookup time straight into ``table``.

    Skips the staging table and the conflict check. If another writer stored one of the keys since the
    lookup, the COPY is undone to its savepoint and False tells the caller to upsert instead. SQLite
    (and any other dialect) always returns False.
    """
    if conn.dialect.name != "postgresql":
        return False
    import psycopg.errors  # only present where PostgreSQL is used

    cursor = conn.connection.cursor()
    cursor.execute("SAVEPOINT servicelens_copy_new")
    try:
        with cursor.copy(f"COPY {table} ({', '.join(frame.columns)}) FROM STDIN WITH (FORMAT csv)") as copy:
            copy.write(frame.write_csv(include_header=False))
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
    _bulk_insert(
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
    frame = frame.select(EVENT_COLUMNS)
    frame = frame.with_columns(event_key=content_hash(frame, EVENT_COLUMNS, digest_size=20)).unique(
        "event_key", keep="first", maintain_order=True
    )
    return _bulk_insert(
        conn, "interaction_events", _to_db_frame(frame, conn), "ON CONFLICT (event_key) DO NOTHING"
    )


def existing_interaction_ids(conn: sa.Connection, ids: Sequence[str]) -> set[str]:
    t = tables.interactions
    found: set[str] = set()
    for chunk in _chunks(list(dict.fromkeys(ids)), KEY_LOOKUP_CHUNK):
        found.update(
            conn.execute(sa.select(t.c.interaction_id).where(t.c.interaction_id.in_(chunk))).scalars()
        )
    return found


def _read_frame(
    conn: sa.Connection, sql: str, params: Sequence[Any], schema: dict[str, pl.DataType]
) -> pl.DataFrame:
    cursor = conn.exec_driver_sql(sql, tuple(params))
    rows = cursor.fetchall()
    raw_schema: dict[str, pl.DataType] = {}
    for name, dtype in schema.items():
        if isinstance(dtype, pl.Datetime | pl.List):
            raw_schema[name] = (
                pl.String() if conn.dialect.name == "sqlite" or isinstance(dtype, pl.List) else dtype
            )
        else:
            raw_schema[name] = dtype
    frame = pl.DataFrame(rows, schema=raw_schema, orient="row", strict=False)
    fixes = []
    for name, dtype in schema.items():
        if isinstance(dtype, pl.Datetime) and conn.dialect.name == "sqlite":
            fixes.append(pl.col(name).str.to_datetime(SQLITE_TS_FORMAT, time_unit="us", time_zone="UTC"))
        elif isinstance(dtype, pl.Datetime):
            fixes.append(pl.col(name).dt.convert_time_zone("UTC"))
        elif isinstance(dtype, pl.List):
            fixes.append(pl.col(name).str.json_decode(dtype))
    return frame.with_columns(fixes) if fixes else frame


def _arrow_table(engine: sa.Engine, sql: str) -> pl.DataFrame | None:
    """The query's result straight into Arrow where a columnar reader exists, else None.

    PostgreSQL: ADBC (binary COPY), several times faster than fetching rows through the DBAPI and building
    a frame from Python tuples. SQLite reads stay on the DBAPI connection: a second reader library on the
    same WAL database file was seen failing with disk I/O errors while the application held connections.
    """
    if engine.dialect.name == "postgresql":
        import adbc_driver_postgresql.dbapi as adbc

        uri = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        with adbc.connect(uri) as conn, conn.cursor() as cursor:
            cursor.execute(sql)
            frame = pl.from_arrow(cursor.fetch_arrow_table())
    else:
        return None
    assert isinstance(frame, pl.DataFrame)
    return frame


def read_table(bind: sa.Engine | sa.Connection, sql: str, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Run a SELECT of the ``schema`` columns and return it in exactly that schema (timestamps UTC)."""
    frame = _arrow_table(bind, sql) if isinstance(bind, sa.Engine) else None
    if frame is None:
        with _connection(bind) as conn:
            return _read_frame(conn, sql, (), schema)
    fixes = []
    for name, dtype in schema.items():
        if isinstance(dtype, pl.List):
            fixes.append(pl.col(name).str.json_decode(dtype))
        elif isinstance(dtype, pl.Datetime) and frame.schema[name] != dtype:
            got = frame.schema[name]
            zone = got.time_zone if isinstance(got, pl.Datetime) else None
            column = pl.col(name).cast(pl.Datetime("us", zone))
            # Naive values are UTC by construction (always stored from UTC); aware ones are converted.
            fixes.append(column.dt.convert_time_zone("UTC") if zone else column.dt.replace_time_zone("UTC"))
        else:
            fixes.append(pl.col(name).cast(dtype))
    return frame.with_columns(fixes).select(list(schema))


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
    with _connection(engine) as conn:
        ph = _placeholder(conn)
        parts = [
            _read_frame(
                conn,
                f"{base} WHERE interaction_id IN ({', '.join([ph] * len(chunk))}){order}",
                chunk,
                EVENT_SCHEMA,
            )
            for chunk in _chunks(list(interaction_ids), KEY_LOOKUP_CHUNK)
        ]
        return pl.concat(parts) if parts else pl.DataFrame(schema=EVENT_SCHEMA)


class _connection:
    """Use a given connection as is, or open one from an engine for the duration of a read."""

    def __init__(self, bind: sa.Engine | sa.Connection):
        self._bind = bind
        self._owned: sa.Connection | None = None

    def __enter__(self) -> sa.Connection:
        if isinstance(self._bind, sa.Connection):
            return self._bind
        self._owned = self._bind.connect()
        return self._owned

    def __exit__(self, *exc: object) -> None:
        if self._owned is not None:
            self._owned.close()


def last_ingest_at(engine: sa.Engine | sa.Connection) -> datetime | None:
    t = tables.ingest_runs
    with _connection(engine) as conn:
        value = conn.execute(
            sa.select(sa.func.max(t.c.finished_at)).where(t.c.status == "succeeded")
        ).scalar()
    return _as_utc(value)
