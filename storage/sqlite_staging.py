"""SQLite bulk writes staged through a scratch database written from Arrow by ADBC.

Python's sqlite3 binds every value of every row while holding the GIL, and releases and retakes the GIL
around each row's step. A 1M-row load took about 15 s on its own, and several times longer while another
thread (the next batch being read and mapped) ran Python and kept the GIL between steps. ADBC's SQLite
driver writes an Arrow table from C without the GIL (about 3.5 s per 1M rows); the caller's connection then
copies the rows with one ``INSERT .. SELECT`` (about 5 s, also without the GIL) inside its own transaction, so
the rows still commit together with everything else the transaction writes, such as the bookmark, or not
at all.

ADBC links a SQLite library of its own. Two copies of SQLite must never have the same file open in one
process: POSIX locks belong to the process, so one copy closing the file drops the other's locks (see
"How To Corrupt An SQLite Database File", 2.2.1). So ADBC only ever writes a new scratch file of its own,
and closes it before the application's connection attaches it; it never opens the application's database.
The scratch file is unlinked as soon as it is attached (the open handle keeps it readable) and detached
when the connection goes back to the pool or stages the next batch.

Staging needs the caller's connection to be outside a transaction, because ATTACH is refused inside one;
otherwise, and for small frames, the caller binds the rows itself.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa

# Below this many rows binding them directly costs less than the scratch file; the variable overrides it
# (tests stage every write with 1).
STAGED_MIN_ROWS = 5_000
STAGED_MIN_ROWS_VARIABLE = "SERVICELENS_SQLITE_STAGED_MIN_ROWS"
SCRATCH_SCHEMA = "servicelens_scratch"
_SCRATCH_TABLE = "staged_rows"
_ATTACHED = "servicelens_scratch_attached"
log = logging.getLogger("servicelens.storage")  # key in the pooled connection's info: attached or not


def staged_insert(conn: sa.Connection, table: str, frame: pl.DataFrame, on_conflict: str) -> int | None:
    """INSERT the frame into ``table`` through a scratch database; the number of rows written, or None when
    staging does not apply here (not SQLite, too few rows, inside a transaction, no ADBC driver)."""
    if not can_stage(conn, frame.height):
        return None
    pooled = conn.connection
    detach_scratch(pooled.dbapi_connection, pooled.info)
    try:
        scratch = _write_scratch(frame)
    except Exception as exc:  # the scratch file's own trouble (temp folder full, a type ADBC refuses)
        log.warning("staging %s rows of %s failed, binding them instead: %s", frame.height, table, exc)
        return None
    cursor = pooled.cursor()
    try:
        cursor.execute(f"ATTACH DATABASE ? AS {SCRATCH_SCHEMA}", (str(scratch),))
        pooled.info[_ATTACHED] = True
    finally:
        scratch.unlink(missing_ok=True)  # the attached handle keeps it readable until detached
    staged = cursor.execute(f"SELECT count(*) FROM {SCRATCH_SCHEMA}.{_SCRATCH_TABLE}").fetchone()[0]
    if staged != frame.height:
        raise RuntimeError(f"staging {table}: {frame.height} rows written, {staged} readable back")
    columns = ", ".join(frame.columns)
    cursor.execute(
        f"INSERT INTO main.{table} ({columns}) SELECT {columns} "
        # WHERE true: without it SQLite would read ON CONFLICT as a join constraint of the SELECT.
        f"FROM {SCRATCH_SCHEMA}.{_SCRATCH_TABLE} WHERE true {on_conflict}"
    )
    return int(cursor.rowcount)


def can_stage(conn: sa.Connection, rows: int) -> bool:
    """Whether :func:`staged_insert` would write ``rows`` rows here: one statement, undone whole on error."""
    if conn.dialect.name != "sqlite" or rows < staged_min_rows():
        return False
    if getattr(conn.connection.dbapi_connection, "in_transaction", True):
        return False
    try:
        import adbc_driver_sqlite  # noqa: F401
    except ImportError:  # an install without the driver still loads, only slower
        return False
    return True


def staged_min_rows() -> int:
    text = os.environ.get(STAGED_MIN_ROWS_VARIABLE, "").strip()
    if not text:
        return STAGED_MIN_ROWS
    try:
        return max(1, int(text))
    except ValueError:
        raise ValueError(f"{STAGED_MIN_ROWS_VARIABLE}={text!r}: expected a whole number of rows") from None


def _write_scratch(frame: pl.DataFrame) -> Path:
    """A new scratch database file holding the frame, written and closed by ADBC.

    Through the driver manager's own objects rather than its DB-API module, which imports pyarrow's dataset
    module and with it pandas (a third of a second, paid by a run's first staged write); the frame goes to
    the driver as an Arrow stream, without a copy into pyarrow.
    """
    import adbc_driver_manager as adbc
    import adbc_driver_sqlite

    handle, name = tempfile.mkstemp(prefix="servicelens-staging-", suffix=".sqlite")
    os.close(handle)
    path = Path(name)
    try:
        with (
            adbc_driver_sqlite.connect(str(path)) as database,
            adbc.AdbcConnection(database) as side,  # autocommit: ADBC's default
        ):
            with adbc.AdbcStatement(side) as statement:
                # Disposable: nothing needs to survive a crash, so no journal and no fsync.
                for pragma in ("PRAGMA journal_mode=OFF", "PRAGMA synchronous=OFF"):
                    statement.set_sql_query(pragma)
                    statement.execute_update()
            with adbc.AdbcStatement(side) as statement:
                statement.set_options(
                    **{
                        "adbc.ingest.target_table": _SCRATCH_TABLE,
                        "adbc.ingest.mode": "adbc.ingest.mode.create",
                    }
                )
                statement.bind_stream(frame)
                statement.execute_update()
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def detach_scratch(dbapi_connection: Any, info: dict[Any, Any]) -> None:
    """Detach the connection's scratch database, if attached (outside a transaction only)."""
    if not info.get(_ATTACHED) or getattr(dbapi_connection, "in_transaction", False):
        return
    dbapi_connection.execute(f"DETACH DATABASE {SCRATCH_SCHEMA}")
    info[_ATTACHED] = False


def detach_on_checkin(dbapi_connection: Any, connection_record: Any) -> None:
    """Pool ``checkin`` listener: a connection goes back to the pool without a scratch database."""
    if dbapi_connection is None:  # invalidated: closed with its attachments
        return
    # A failed detach only delays it until the connection's next staged write.
    with contextlib.suppress(Exception):
        detach_scratch(dbapi_connection, connection_record.info)
