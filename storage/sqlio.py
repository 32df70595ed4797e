"""Dialect-level SQL I/O shared by every storage module: batched writes, columnar reads, UTC handling.

Writes go through the DBAPI in batches with SQL both SQLite and PostgreSQL accept (``INSERT .. ON CONFLICT``);
PostgreSQL bulk writes use COPY. Reads come back as polars frames in a given schema.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import polars as pl
import sqlalchemy as sa

from storage.sqlite_staging import staged_insert

SQLITE_TS_FORMAT = "%Y-%m-%d %H:%M:%S%.6f"
KEY_LOOKUP_CHUNK = 5000


def utcnow() -> datetime:
    return datetime.now(UTC)


def placeholder(conn: sa.Connection) -> str:
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


def chunks(values: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def sqlite_timestamp_text(column: pl.Expr, dtype: pl.Datetime) -> pl.Expr:
    """The UTC text SQLite stores (:data:`SQLITE_TS_FORMAT`): a cast of the naive UTC value, which gives
    the same text several times faster than ``strftime``."""
    utc = column.dt.convert_time_zone("UTC").dt.replace_time_zone(None) if dtype.time_zone else column
    return utc.dt.cast_time_unit("us").cast(pl.String)


def to_db_frame(frame: pl.DataFrame, conn: sa.Connection | str) -> pl.DataFrame:
    """Convert to values the DBAPI binds directly: timestamps as UTC text on SQLite, tags as JSON.

    ``conn`` is the connection, or the name of its dialect when the conversion runs ahead of the write.
    """
    dialect = conn if isinstance(conn, str) else conn.dialect.name
    exprs: list[pl.Expr] = []
    for name, dtype in frame.schema.items():
        col = pl.col(name)
        if isinstance(dtype, pl.Datetime):
            exprs.append(sqlite_timestamp_text(col, dtype) if dialect == "sqlite" else col)
        elif isinstance(dtype, pl.List):
            # struct JSON is {"name":[...]}: keep only the array part, vectorised.
            as_json = pl.struct(col.fill_null([])).struct.json_encode().str.slice(len(name) + 4)
            exprs.append(as_json.str.head(-1).alias(name))
        else:
            exprs.append(col)
    return frame.select(exprs)


def as_utc(value: datetime | str | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def execute_many(conn: sa.Connection, sql: str, rows: Iterable[tuple[Any, ...]]) -> int:
    """executemany fed by an iterator, so a batch is never copied whole into Python tuples.

    sqlite3 and psycopg both take any iterable; SQLAlchemy's DBAPI protocol only promises sequences.
    """
    cursor: Any = conn.connection.cursor()
    cursor.executemany(sql, rows)
    return int(cursor.rowcount)


COPY_SLICE_ROWS = 20_000


def _binary_dtype(column_type: sa.types.TypeEngine[Any]) -> pl.DataType | None:
    """The polars type whose PostgreSQL binary COPY encoding (pgpq) the column's type reads, if any."""
    if isinstance(column_type, sa.SmallInteger):
        return pl.Int16()
    if isinstance(column_type, sa.BigInteger):
        return pl.Int64()
    if isinstance(column_type, sa.Integer):
        return pl.Int32()
    if isinstance(column_type, sa.String):  # Text included
        return pl.String()
    if isinstance(column_type, sa.Boolean):
        return pl.Boolean()
    if isinstance(column_type, sa.DateTime) and column_type.timezone:
        return pl.Datetime("us", "UTC")
    if isinstance(column_type, sa.Float) and not column_type.asdecimal:
        return pl.Float64()
    return None


def binary_copy_dtypes(table: str, columns: Sequence[str]) -> dict[str, pl.DataType] | None:
    """Polars types that make ``columns`` of the declared ``table`` binary-COPY-able, or None when a column is
    unknown or of a type without a binary mapping here."""
    # The declared tables, imported late to keep this module below them; the audit and SLA modules register
    # their tables on the same metadata.
    from storage import audit_tables, sla_tables  # noqa: F401
    from storage.tables import metadata

    declared = metadata.tables.get(table)
    if declared is None:
        return None
    dtypes: dict[str, pl.DataType] = {}
    for name in columns:
        dtype = _binary_dtype(declared.c[name].type) if name in declared.c else None
        if dtype is None:
            return None
        dtypes[name] = dtype
    return dtypes


def copy_rows(cursor: Any, table: str, frame: pl.DataFrame, declared: str | None = None) -> None:
    """PostgreSQL ``COPY table FROM STDIN`` of the frame, in slices so that the server loads one while the
    next is encoded.

    Binary (pgpq encodes Arrow into PostgreSQL's binary COPY format) when every column of ``declared`` (the
    table ``table`` has the columns of; by default ``table`` itself) has a binary mapping: the server then
    reads timestamps and numbers without parsing text, about a third faster at 1M rows. CSV otherwise.
    """
    columns = ", ".join(frame.columns)
    dtypes = binary_copy_dtypes(declared or table, frame.columns)
    if dtypes is None:
        with cursor.copy(f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv)") as copy:
            for start in range(0, frame.height, COPY_SLICE_ROWS):
                copy.write(frame.slice(start, COPY_SLICE_ROWS).write_csv(include_header=False))
        return
    import pgpq  # only needed where PostgreSQL is used

    arrow = frame.cast(dtypes).to_arrow()  # type: ignore[arg-type]
    encoder = pgpq.ArrowToPostgresBinaryEncoder(arrow.schema)
    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT binary)") as copy:
        copy.write(encoder.write_header())
        for batch in arrow.to_batches(max_chunksize=COPY_SLICE_ROWS):
            copy.write(encoder.write_batch(batch))
        copy.write(encoder.finish())


def bulk_insert(conn: sa.Connection, table: str, frame: pl.DataFrame, on_conflict: str) -> int:
    """INSERT the frame's rows with an ON CONFLICT clause; returns how many rows were written.

    PostgreSQL: COPY into a session temp table, then one INSERT .. SELECT (an order of magnitude faster than
    row-by-row binds). SQLite: large frames through a scratch database written by ADBC
    (:mod:`storage.sqlite_staging`) when the connection is outside a transaction, else one executemany of a
    prepared statement.
    """
    cols = ", ".join(frame.columns)
    cursor = conn.connection.cursor()
    if conn.dialect.name == "postgresql":
        staging = f"_staging_{table}"
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {staging} (LIKE {table} INCLUDING DEFAULTS)")
        cursor.execute(f"TRUNCATE {staging}")
        copy_rows(cursor, staging, frame, declared=table)
        cursor.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {staging} {on_conflict}")
        written = cursor.rowcount
        cursor.execute(f"TRUNCATE {staging}")
        return int(written)
    staged = staged_insert(conn, table, frame, on_conflict)
    if staged is not None:
        return staged
    marks = ", ".join("?" * frame.width)
    return execute_many(
        conn, f"INSERT INTO {table} ({cols}) VALUES ({marks}) {on_conflict}", frame.iter_rows()
    )


def read_frame(
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


def arrow_table(engine: sa.Engine, sql: str) -> pl.DataFrame | None:
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
    frame = arrow_table(bind, sql) if isinstance(bind, sa.Engine) else None
    if frame is None:
        with connection_for(bind) as conn:
            return read_frame(conn, sql, (), schema)
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


class connection_for:
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
