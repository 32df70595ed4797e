"""What every connector hands to the load pipeline.

A connector (file parser or API stream) turns source records into a :class:`Batch`: canonical columns
(see ``servicelens.model``) plus ``_file`` and ``_row`` saying where each row came from. Values may still be
loosely typed (strings for timestamps are fine); ``connectors.validate`` coerces them to the canonical
schema and sends every row that fails to the quarantine with file, row, field and reason. Records a parser
cannot even map (broken JSON line, missing object) become :class:`Rejection` entries, never silent drops.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

SOURCE_FILE = "_file"
SOURCE_ROW = "_row"


@dataclass(frozen=True)
class Rejection:
    """A record that could not be mapped at all; stored in the quarantine."""

    file: str
    row: int | None
    field: str | None
    reason: str
    raw: str = ""


FileFingerprint = tuple[str, str]  # (resolved path, sha256)


@dataclass(init=False)
class Batch:
    """Mapped records from one or more files, or one API page, before validation."""

    source: str
    interactions: pl.DataFrame
    events: pl.DataFrame
    rejections: list[Rejection]
    # Replication key value covered by this batch; stored in the same transaction as its rows.
    bookmark: str | None
    # Every file whose rows are all in this batch, remembered with them so an unchanged file is not re-read.
    file_fingerprints: list[FileFingerprint]
    # Records of each merged file (fingerprint -> count); a one-file batch counts all its records.
    file_records: dict[FileFingerprint, int]

    def __init__(
        self,
        source: str,
        interactions: pl.DataFrame,
        events: pl.DataFrame | None = None,
        rejections: list[Rejection] | None = None,
        bookmark: str | None = None,
        file_fingerprint: FileFingerprint | None = None,
        file_fingerprints: list[FileFingerprint] | None = None,
        file_records: dict[FileFingerprint, int] | None = None,
    ):
        self.source = source
        self.interactions = interactions
        self.events = pl.DataFrame() if events is None else events
        self.rejections = [] if rejections is None else rejections
        self.bookmark = bookmark
        self.file_fingerprints = list(file_fingerprints or [])
        if file_fingerprint is not None:
            self.file_fingerprints.append(file_fingerprint)
        self.file_records = dict(file_records or {})

    @property
    def file_fingerprint(self) -> FileFingerprint | None:
        """The fingerprint of a one-file batch (the last file's when several were merged)."""
        return self.file_fingerprints[-1] if self.file_fingerprints else None

    @file_fingerprint.setter
    def file_fingerprint(self, value: FileFingerprint | None) -> None:
        self.file_fingerprints = [] if value is None else [value]

    @property
    def record_count(self) -> int:
        return self.interactions.height + len(self.rejections)


# Rows per transaction when a file is large: bounds the memory of one write and the work a crash repeats.
MAX_BATCH_ROWS = 200_000


def split_batch(batch: Batch, max_rows: int | None = None, first_rows: int | None = None) -> list[Batch]:
    """The batch in slices of at most ``max_rows`` interactions and events, loaded in order; the first slice
    holds at most ``first_rows`` when that is smaller.

    Rejections travel with the first slice, the file fingerprints with the last one, so a file counts as
    loaded only when all of it is.
    """
    max_rows = max_rows or MAX_BATCH_ROWS
    first = min(first_rows or max_rows, max_rows)
    height = max(batch.interactions.height, batch.events.height)
    if height <= first:
        return [batch]
    starts = [0, *range(first, height, max_rows)]
    parts = []
    for start, end in zip(starts, [*starts[1:], height], strict=True):
        last = end >= height
        parts.append(
            Batch(
                batch.source,
                batch.interactions.slice(start, end - start)
                if batch.interactions.width
                else batch.interactions,
                batch.events.slice(start, end - start) if batch.events.width else batch.events,
                batch.rejections if start == 0 else [],
                bookmark=batch.bookmark if last else None,
                file_fingerprints=batch.file_fingerprints if last else [],
                file_records=batch.file_records if last else {},
            )
        )
    return parts
