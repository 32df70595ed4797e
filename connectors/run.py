"""The load pipeline shared by every connector: validate -> upsert -> events -> quarantine -> bookmark.

Each batch commits in one transaction together with its bookmark and the fingerprints of its files, so a crash between
batches loses nothing (the next run re-reads from the last committed bookmark) and duplicates nothing
(loads are upserts on (source, external_id); events are keyed by their content).

An event whose interaction is not stored yet (it arrives in a later file or page, or its row was
quarantined) is not lost: it is kept in the quarantine as a ``deferred_event`` and retried at the end of
every run; once its interaction exists it is loaded and leaves the quarantine.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

import polars as pl
import sqlalchemy as sa

from connectors.base import SOURCE_FILE, SOURCE_ROW, Batch
from connectors.validate import QUARANTINE_SCHEMA, ValidatedBatch, validate_batch, validate_events
from servicelens.model import EVENT_SCHEMA
from storage import runs
from storage.repo import (
    PreparedInteractions,
    existing_interaction_ids,
    insert_events,
    prepare_interactions,
    upsert_interactions,
)
from storage.sqlio import utcnow

T = TypeVar("T")
U = TypeVar("U")
DEFERRED_EVENT = runs.DEFERRED_EVENT
DEFERRED_REASON = "its interaction is not loaded yet (or was quarantined); retried on every run"


@dataclass
class RunReport:
    connector: str
    run_id: int
    status: str  # succeeded | failed
    counts: runs.RunCounts = field(default_factory=runs.RunCounts)
    new_quarantine: int = 0
    message: str | None = None
    deferred_loaded: int = 0  # waiting events whose interaction arrived during this run
    notes: list[str] = field(default_factory=list)  # e.g. files skipped, shown in the summary

    @property
    def changed_anything(self) -> bool:
        c = self.counts
        return bool(c.inserted or c.updated or c.events_inserted or self.new_quarantine)

    def summary(self) -> str:
        c = self.counts
        text = (
            f"{self.connector}: read {c.read}, inserted {c.inserted}, updated {c.updated}, "
            f"unchanged {c.unchanged}, quarantined {c.quarantined}, events added {c.events_inserted}"
        )
        if self.deferred_loaded:
            text += f" (of which {self.deferred_loaded} waited for their interaction)"
        if self.notes:
            text += "; " + "; ".join(self.notes)
        if self.status != "succeeded":
            return f"{text} — FAILED: {self.message}"
        if not self.changed_anything:
            text += " — nothing changed"
        elif c.quarantined and not self.new_quarantine:
            text += " (quarantined rows were already in the quarantine)"
        return text


@dataclass(frozen=True)
class BatchResult:
    counts: runs.RunCounts
    new_quarantine: int
    max_updated_at: datetime | None  # the replication key committed with the batch


def _defer_orphan_events(conn: sa.Connection, events: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split events into those whose interaction is stored and deferred-event records for the rest.

    A deferred record's ``raw`` is the validated event as JSON (ISO timestamps), so it can be loaded later
    exactly as it would have been now.
    """
    if events.is_empty():
        return events, pl.DataFrame(schema=QUARANTINE_SCHEMA)
    known = existing_interaction_ids(conn, events["interaction_id"].unique().to_list())
    is_known = pl.col("interaction_id").is_in(list(known))
    orphans = events.filter(~is_known)
    if orphans.is_empty():
        return events, pl.DataFrame(schema=QUARANTINE_SCHEMA)
    as_json = orphans.select(
        pl.struct(
            pl.col("interaction_id"),
            pl.col("at").dt.strftime("%Y-%m-%dT%H:%M:%S%.6f+00:00"),
            *[pl.col(name) for name in ("type", "status", "author", "body")],
        ).struct.json_encode()
    ).to_series()
    deferred = orphans.select(
        pl.lit(DEFERRED_EVENT).alias("record_kind"),
        pl.col(SOURCE_FILE).cast(pl.String).alias("file"),
        pl.col(SOURCE_ROW).cast(pl.Int64).alias("row"),
        pl.lit("interaction_id").alias("field"),
        pl.lit(DEFERRED_REASON).alias("reason"),
        as_json.alias("raw"),
    )
    return events.filter(is_known), deferred


@dataclass(frozen=True)
class PreparedBatch:
    """A batch validated and its interactions prepared for the upsert: everything that needs no database."""

    batch: Batch
    validated: ValidatedBatch
    interactions: PreparedInteractions


def prepare_batch(batch: Batch, dialect: str) -> PreparedBatch:
    validated = validate_batch(batch)
    return PreparedBatch(batch, validated, prepare_interactions(validated.interactions, dialect))


def prefetched(items: Iterable[T], prepare: Callable[[T], U]) -> Iterator[U]:
    """``prepare(item)`` for each item, in order, made ahead in two background threads while the caller
    handles the current one: one thread reads the item after next while the other prepares the next.

    Reading (parsing files, mostly Python), preparing (polars) and the caller's writing (the database
    driver) then overlap, as polars, hashing and the drivers release the GIL; at most three items are held
    at once. An exception raised by ``items`` or ``prepare`` reaches the caller at the item where it
    happened, after every item before it.
    """
    iterator = iter(items)

    def read_next() -> tuple[T] | None:
        """The next item (in a 1-tuple, as an item may be None), or None at the end."""
        for item in iterator:
            return (item,)
        return None

    def prepare_read(read: Future[tuple[T] | None]) -> tuple[U] | None:
        item = read.result()
        return None if item is None else (prepare(item[0]),)

    with (
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="servicelens-read") as reader,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="servicelens-prepare") as preparer,
    ):
        pending = preparer.submit(prepare_read, reader.submit(read_next))
        try:
            while True:
                following = reader.submit(read_next)  # read while ``pending`` is prepared
                prepared = pending.result()
                if prepared is None:
                    return
                pending = preparer.submit(prepare_read, following)
                yield prepared[0]
        finally:
            # Stopped early (an error, or the caller gave up): nothing more is read than already started.
            reader.shutdown(cancel_futures=True)


def load_batch(
    conn: sa.Connection, batch: Batch | PreparedBatch, run_id: int | None, now: datetime
) -> BatchResult:
    """Load one batch inside the caller's transaction."""
    prepared = batch if isinstance(batch, PreparedBatch) else prepare_batch(batch, conn.dialect.name)
    batch, validated = prepared.batch, prepared.validated
    upserted = upsert_interactions(conn, prepared.interactions, now)
    events, deferred = _defer_orphan_events(conn, validated.events)
    events_inserted = insert_events(conn, events.select(list(EVENT_SCHEMA)))
    quarantine = pl.concat([validated.quarantine, deferred])
    new_quarantine = runs.add_quarantine(conn, quarantine, batch.source, run_id, now)
    counts = runs.RunCounts(
        read=validated.read,
        inserted=upserted.inserted,
        updated=upserted.updated,
        unchanged=upserted.unchanged,
        quarantined=validated.quarantined_rows,
        events_inserted=events_inserted,
    )
    latest = validated.interactions.select(pl.col("updated_at").max()).item()
    return BatchResult(counts, new_quarantine, latest)


def later_bookmark(stored: str | None, candidate: str | None) -> str | None:
    """The bookmark to keep: the later of two ISO timestamps; any other cursor simply replaces the old one."""
    if candidate is None:
        return stored
    if stored is None:
        return candidate
    try:
        return max(stored, candidate, key=lambda v: datetime.fromisoformat(v))
    except (ValueError, TypeError):  # opaque cursors (API paging tokens) are not ordered
        return candidate


def commit_batch(
    engine: sa.Engine,
    connector: str,
    batch: Batch | PreparedBatch,
    run_id: int,
    now: datetime,
    remember_files: bool = False,
    bookmark_from_rows: bool = False,
) -> BatchResult:
    """One batch, its bookmark and its files' fingerprints in one transaction: all of it commits, or none.

    ``bookmark_from_rows``: without a bookmark on the batch, bookmark the latest ``updated_at`` loaded.
    """
    with engine.begin() as conn:
        result = load_batch(conn, batch, run_id, now)
        if isinstance(batch, PreparedBatch):
            batch = batch.batch
        candidate = batch.bookmark
        if candidate is None and bookmark_from_rows and result.max_updated_at is not None:
            candidate = result.max_updated_at.isoformat()
        if candidate is not None:
            stored = runs.get_bookmark(conn, connector)
            chosen = later_bookmark(stored, candidate)
            if chosen is not None and chosen != stored:
                runs.set_bookmark(conn, connector, chosen, now)
        if remember_files and batch.file_fingerprints:
            files = [
                (path, digest, batch.file_records.get((path, digest), result.counts.read))
                for path, digest in batch.file_fingerprints
            ]
            runs.remember_files(conn, connector, files, run_id, now)
    return result


def load_deferred_events(engine: sa.Engine, now: datetime) -> int:
    """Load the waiting events whose interaction is now stored; returns how many events were added."""
    with engine.begin() as conn:
        waiting = runs.read_deferred_events(conn)
        if waiting.is_empty():
            return 0
        decoded = pl.DataFrame(
            [json.loads(raw) for raw in waiting["raw"].to_list()],
            schema=dict.fromkeys(EVENT_SCHEMA, pl.String()),
            orient="row",
        ).with_columns(
            waiting["quarantine_key"].alias("_key"),
            pl.lit("").alias(SOURCE_FILE),
            pl.lit(0).alias(SOURCE_ROW),
        )
        known = existing_interaction_ids(conn, decoded["interaction_id"].unique().to_list())
        ready = decoded.filter(pl.col("interaction_id").is_in(list(known)))
        if ready.is_empty():
            return 0
        events, problems = validate_events(ready.drop("_key"), "deferred")
        if problems.height:  # stored by this module from validated rows, so this means a corrupted row
            raise ValueError(f"{problems.height} deferred event(s) no longer validate: {problems.row(0)}")
        added = insert_events(conn, events.select(list(EVENT_SCHEMA)))
        runs.delete_quarantine(conn, ready["_key"].to_list())
    return added


def run_batches(
    engine: sa.Engine,
    connector: str,
    batches: Iterable[Batch],
    now: datetime | None = None,
    remember_files: bool = False,
    reraise: bool = True,
    bookmark_from_rows: bool = False,
) -> RunReport:
    """Run a connector's batches as one recorded run. Data problems go to the quarantine, never raise.

    An error of the source itself (unreadable file, failing API) records a failed run with its message and
    keeps every batch committed before it; it is re-raised unless ``reraise`` is false.
    """
    started = now or utcnow()
    run_id = runs.start_run(engine, connector, started)
    report = RunReport(connector, run_id, "succeeded")
    failure: Exception | None = None
    try:
        dialect = engine.dialect.name
        for prepared in prefetched(batches, lambda batch: prepare_batch(batch, dialect)):
            result = commit_batch(
                engine, connector, prepared, run_id, started, remember_files, bookmark_from_rows
            )
            report.counts += result.counts
            report.new_quarantine += result.new_quarantine
    except Exception as exc:  # recorded on the run; re-raised for callers that report it themselves
        failure = exc
    try:
        # Even after a failure: what did commit may be exactly what waiting events were waiting for.
        report.deferred_loaded = load_deferred_events(engine, started)
        report.counts += runs.RunCounts(events_inserted=report.deferred_loaded)
    except Exception as exc:
        failure = failure or exc
    if failure is not None:
        report.status = "failed"
        report.message = f"{type(failure).__name__}: {failure}"
        runs.finish_run(engine, run_id, "failed", report.counts, utcnow(), report.message)
        if reraise:
            raise failure
        return report
    runs.finish_run(engine, run_id, "succeeded", report.counts, utcnow(), None)
    return report
