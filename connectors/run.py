"""The load pipeline shared by every connector: validate -> upsert -> events -> quarantine -> bookmark.

Each batch commits in one transaction together with its bookmark and file fingerprint, so a crash between
batches loses nothing (the next run re-reads from the last committed bookmark) and duplicates nothing
(loads are upserts on (source, external_id); events are keyed by their content).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import polars as pl
import sqlalchemy as sa

from connectors.base import SOURCE_FILE, SOURCE_ROW, Batch
from connectors.validate import QUARANTINE_SCHEMA, validate_batch
from servicelens.model import EVENT_SCHEMA
from storage import runs
from storage.repo import existing_interaction_ids, insert_events, upsert_interactions, utcnow


@dataclass
class RunReport:
    connector: str
    run_id: int
    status: str  # succeeded | failed
    counts: runs.RunCounts = field(default_factory=runs.RunCounts)
    new_quarantine: int = 0
    message: str | None = None

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
        if self.status != "succeeded":
            return f"{text} — FAILED: {self.message}"
        if not self.changed_anything:
            text += " — nothing changed"
        elif c.quarantined and not self.new_quarantine:
            text += " (quarantined rows were already in the quarantine)"
        return text


def _orphan_events(conn: sa.Connection, events: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split events into those whose interaction is stored and quarantine records for the rest."""
    if events.is_empty():
        return events, pl.DataFrame(schema=QUARANTINE_SCHEMA)
    known = existing_interaction_ids(conn, events["interaction_id"].unique().to_list())
    is_known = pl.col("interaction_id").is_in(list(known))
    orphans = events.filter(~is_known).select(
        pl.lit("event").alias("record_kind"),
        pl.col(SOURCE_FILE).alias("file"),
        pl.col(SOURCE_ROW).cast(pl.Int64).alias("row"),
        pl.lit("interaction_id").alias("field"),
        pl.lit("unknown interaction: not loaded, or its row was quarantined").alias("reason"),
        pl.col("_raw").alias("raw"),
    )
    return events.filter(is_known), orphans


def load_batch(
    conn: sa.Connection, batch: Batch, run_id: int | None, now: datetime
) -> tuple[runs.RunCounts, int]:
    """Load one batch inside the caller's transaction; returns the counts and the new quarantine entries."""
    validated = validate_batch(batch)
    upserted = upsert_interactions(conn, validated.interactions, now)
    events, orphans = _orphan_events(conn, validated.events)
    events_inserted = insert_events(conn, events.select(list(EVENT_SCHEMA)))
    quarantine = pl.concat([validated.quarantine, orphans])
    new_quarantine = runs.add_quarantine(conn, quarantine, batch.source, run_id, now)
    counts = runs.RunCounts(
        read=validated.read,
        inserted=upserted.inserted,
        updated=upserted.updated,
        unchanged=upserted.unchanged,
        quarantined=validated.quarantined_rows,
        events_inserted=events_inserted,
    )
    return counts, new_quarantine


def run_batches(
    engine: sa.Engine,
    connector: str,
    batches: Iterable[Batch],
    now: datetime | None = None,
    remember_files: bool = False,
) -> RunReport:
    """Run a connector's batches as one recorded run. Never raises for data problems: failures are recorded."""
    started = now or utcnow()
    run_id = runs.start_run(engine, connector, started)
    report = RunReport(connector, run_id, "succeeded")
    try:
        for batch in batches:
            with engine.begin() as conn:
                counts, new_quarantine = load_batch(conn, batch, run_id, started)
                if batch.bookmark is not None:
                    runs.set_bookmark(conn, connector, batch.bookmark, started)
                if remember_files and batch.file_fingerprint is not None:
                    path, digest = batch.file_fingerprint
                    runs.remember_file(conn, connector, path, digest, counts.read, run_id, started)
            report.counts += counts
            report.new_quarantine += new_quarantine
    except Exception as exc:  # recorded on the run, then re-raised for the caller to report
        report.status = "failed"
        report.message = f"{type(exc).__name__}: {exc}"
        runs.finish_run(engine, run_id, "failed", report.counts, utcnow(), report.message)
        raise
    runs.finish_run(engine, run_id, "succeeded", report.counts, utcnow(), None)
    return report
