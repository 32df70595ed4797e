"""Ingest bookkeeping: run records, the quarantine, bookmarks and remembered files."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import polars as pl
import sqlalchemy as sa

from storage import tables
from storage.sqlio import as_utc, chunks

# Quarantine record kind of an event kept until its interaction is loaded (see connectors/run.py).
DEFERRED_EVENT = "deferred_event"
INTERRUPTED_MESSAGE = "interrupted: the process stopped before the run finished; the next run resumed"


@dataclass(frozen=True)
class RunCounts:
    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    events_inserted: int = 0

    def __add__(self, other: RunCounts) -> RunCounts:
        return RunCounts(*(a + b for a, b in zip(self.as_tuple(), other.as_tuple(), strict=True)))

    def as_tuple(self) -> tuple[int, ...]:
        return (
            self.read,
            self.inserted,
            self.updated,
            self.unchanged,
            self.quarantined,
            self.events_inserted,
        )

    def as_dict(self) -> dict[str, int]:
        return dict(
            zip(
                ("read", "inserted", "updated", "unchanged", "quarantined", "events_inserted"),
                self.as_tuple(),
                strict=True,
            )
        )


def start_run(engine: sa.Engine, connector: str, now: datetime) -> int:
    with engine.begin() as conn:
        result = conn.execute(
            tables.ingest_runs.insert().values(connector=connector, started_at=now, status="running")
        )
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])


def finish_run(
    engine: sa.Engine,
    run_id: int,
    status: str,
    counts: RunCounts,
    finished_at: datetime,
    message: str | None = None,
) -> None:
    with engine.begin() as conn:
        conn.execute(
            tables.ingest_runs.update()
            .where(tables.ingest_runs.c.run_id == run_id)
            .values(status=status, finished_at=finished_at, message=message, **counts.as_dict())
        )


def mark_interrupted_runs(engine: sa.Engine, connector: str, now: datetime) -> int:
    """Close runs of ``connector`` left ``running`` by a process that was killed; returns how many.

    Only call this when no other run of the connector can be active (the scheduler runs one at a time).
    """
    t = tables.ingest_runs
    with engine.begin() as conn:
        result = conn.execute(
            t.update()
            .where(t.c.connector == connector, t.c.status == "running")
            .values(status="failed", finished_at=now, message=INTERRUPTED_MESSAGE)
        )
    return int(result.rowcount or 0)


def add_quarantine(
    conn: sa.Connection, frame: pl.DataFrame, source: str, run_id: int | None, now: datetime
) -> int:
    """Store quarantine records; a record already stored (same source/file/row/field/reason/raw) is kept once."""
    if frame.is_empty():
        return 0
    rows = []
    seen: set[str] = set()
    for rec in frame.iter_rows(named=True):
        ident = "\x1f".join(str(rec[k]) for k in ("file", "row", "field", "reason", "raw"))
        key = hashlib.blake2b(f"{source}\x1f{ident}".encode(), digest_size=20).hexdigest()
        if key in seen:
            continue
        seen.add(key)
        rows.append(
            {
                "quarantine_key": key,
                "run_id": run_id,
                "source": source,
                "record_kind": rec["record_kind"],
                "file": rec["file"],
                "row": rec["row"],
                "field": rec["field"],
                "reason": rec["reason"],
                "raw": rec["raw"] or "",
                "quarantined_at": now,
            }
        )
    t = tables.quarantine
    known: set[str] = set()
    for chunk in chunks([r["quarantine_key"] for r in rows], 2000):
        known.update(
            conn.execute(sa.select(t.c.quarantine_key).where(t.c.quarantine_key.in_(chunk))).scalars()
        )
    new = [r for r in rows if r["quarantine_key"] not in known]
    if new:
        conn.execute(t.insert(), new)
    return len(new)


def read_deferred_events(conn: sa.Connection) -> pl.DataFrame:
    """(quarantine_key, raw) of every event waiting for its interaction."""
    t = tables.quarantine
    rows = conn.execute(
        sa.select(t.c.quarantine_key, t.c.raw)
        .where(t.c.record_kind == DEFERRED_EVENT)
        .order_by(t.c.quarantine_key)
    ).all()
    return pl.DataFrame(
        [tuple(r) for r in rows], schema={"quarantine_key": pl.String, "raw": pl.String}, orient="row"
    )


def delete_quarantine(conn: sa.Connection, keys: list[str]) -> None:
    t = tables.quarantine
    for chunk in chunks(keys, 2000):
        conn.execute(t.delete().where(t.c.quarantine_key.in_(chunk)))


def read_quarantine(engine: sa.Engine, source: str | None = None) -> pl.DataFrame:
    t = tables.quarantine
    query = sa.select(
        t.c.source,
        t.c.record_kind,
        t.c.file,
        t.c.row,
        t.c.field,
        t.c.reason,
        t.c.raw,
        t.c.quarantined_at,
        t.c.run_id,
    ).order_by(t.c.quarantined_at, t.c.file, t.c.row)
    if source is not None:
        query = query.where(t.c.source == source)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return pl.DataFrame(
        [(*r[:7], as_utc(r[7]), r[8]) for r in rows],
        schema={
            "source": pl.String,
            "record_kind": pl.String,
            "file": pl.String,
            "row": pl.Int64,
            "field": pl.String,
            "reason": pl.String,
            "raw": pl.String,
            "quarantined_at": pl.Datetime("us", "UTC"),
            "run_id": pl.Int64,
        },
        orient="row",
    )


def read_runs(engine: sa.Engine, connector: str | None = None, limit: int = 500) -> pl.DataFrame:
    t = tables.ingest_runs
    query = sa.select(t).order_by(t.c.run_id.desc()).limit(limit)
    if connector is not None:
        query = query.where(t.c.connector == connector)
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
    for row in rows:
        row["started_at"] = as_utc(row["started_at"])
        row["finished_at"] = as_utc(row["finished_at"])
    schema: dict[str, Any] = {
        "run_id": pl.Int64,
        "connector": pl.String,
        "started_at": pl.Datetime("us", "UTC"),
        "finished_at": pl.Datetime("us", "UTC"),
        "status": pl.String,
        "read": pl.Int64,
        "inserted": pl.Int64,
        "updated": pl.Int64,
        "unchanged": pl.Int64,
        "quarantined": pl.Int64,
        "events_inserted": pl.Int64,
        "message": pl.String,
    }
    return pl.DataFrame(rows, schema=schema)


LAST_RUNS_SCHEMA: dict[str, Any] = {
    "connector": pl.String,
    "last_status": pl.String,
    "last_started_at": pl.Datetime("us", "UTC"),
    "last_success_at": pl.Datetime("us", "UTC"),
    "last_failure_at": pl.Datetime("us", "UTC"),
    "last_failure_message": pl.String,
    "runs": pl.Int64,
}


def read_last_runs(engine: sa.Engine) -> pl.DataFrame:
    """Per connector: status of the latest run, end of the latest success, and the latest failure."""
    t = tables.ingest_runs
    with engine.connect() as conn:
        latest = conn.execute(
            sa.select(t.c.connector, t.c.status, sa.func.max(t.c.run_id), sa.func.count()).group_by(
                t.c.connector, t.c.status
            )
        ).all()
        ids = [row[2] for row in latest]
        details = {
            r.run_id: r
            for chunk in chunks(ids, 2000)
            for r in conn.execute(
                sa.select(t.c.run_id, t.c.started_at, t.c.finished_at, t.c.status, t.c.message).where(
                    t.c.run_id.in_(chunk)
                )
            )
        }
    summary: dict[str, dict[str, Any]] = {}
    for connector, status, run_id, count in latest:
        entry = summary.setdefault(connector, {"connector": connector, "runs": 0, "_latest": -1})
        entry["runs"] += count
        run = details[run_id]
        if run_id > entry["_latest"]:
            entry.update(_latest=run_id, last_status=status, last_started_at=as_utc(run.started_at))
        if status == "succeeded":
            entry["last_success_at"] = as_utc(run.finished_at)
        elif status == "failed":
            entry["last_failure_at"] = as_utc(run.finished_at or run.started_at)
            entry["last_failure_message"] = run.message
    rows = [{k: entry.get(k) for k in LAST_RUNS_SCHEMA} for _, entry in sorted(summary.items())]
    return pl.DataFrame(rows, schema=LAST_RUNS_SCHEMA, orient="row")


def get_bookmark(conn: sa.Connection | sa.Engine, connector: str) -> str | None:
    t = tables.bookmarks
    query = sa.select(t.c.value).where(t.c.connector == connector)
    if isinstance(conn, sa.Engine):
        with conn.connect() as c:
            return c.execute(query).scalar()
    return conn.execute(query).scalar()


def read_bookmarks(engine: sa.Engine) -> pl.DataFrame:
    """Every connector's bookmark: connector, value, updated_at."""
    t = tables.bookmarks
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t.c.connector, t.c.value, t.c.updated_at).order_by(t.c.connector)).all()
    return pl.DataFrame(
        [(r[0], r[1], as_utc(r[2])) for r in rows],
        schema={"connector": pl.String, "value": pl.String, "updated_at": pl.Datetime("us", "UTC")},
        orient="row",
    )


def set_bookmark(conn: sa.Connection, connector: str, value: str, now: datetime) -> None:
    """Set a bookmark inside the caller's transaction: it commits together with the rows it covers."""
    t = tables.bookmarks
    updated = conn.execute(t.update().where(t.c.connector == connector).values(value=value, updated_at=now))
    if updated.rowcount == 0:
        conn.execute(t.insert().values(connector=connector, value=value, updated_at=now))


def ingested_files(conn: sa.Connection | sa.Engine, connector: str) -> set[tuple[str, str]]:
    """The (path, sha256) of every file the connector has loaded: one query for a whole folder scan."""
    t = tables.ingested_files
    query = sa.select(t.c.path, t.c.sha256).where(t.c.connector == connector)
    if isinstance(conn, sa.Engine):
        with conn.connect() as c:
            return {(row[0], row[1]) for row in c.execute(query)}
    return {(row[0], row[1]) for row in conn.execute(query)}


def remember_files(
    conn: sa.Connection,
    connector: str,
    files: Sequence[tuple[str, str, int]],
    run_id: int,
    now: datetime,
) -> int:
    """Remember several files' content, (path, sha256, rows) each, inside the caller's transaction.

    Files seen before are kept once; returns how many were new.
    """
    t = tables.ingested_files
    unique = list({(path, digest): rows for path, digest, rows in files}.items())
    known: set[tuple[str, str]] = set()
    for chunk in chunks([path for (path, _), _ in unique], 2000):
        rows = conn.execute(
            sa.select(t.c.path, t.c.sha256).where(t.c.connector == connector, t.c.path.in_(chunk))
        )
        known.update((path, digest) for path, digest in rows)
    new = [
        {"connector": connector, "path": p, "sha256": d, "rows": r, "run_id": run_id, "ingested_at": now}
        for (p, d), r in unique
        if (p, d) not in known
    ]
    if new:
        conn.execute(t.insert(), new)
    return len(new)
