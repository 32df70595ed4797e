"""What every connector hands to the load pipeline.

A connector (file parser or API stream) turns source records into a :class:`Batch`: canonical columns
(see ``servicelens.model``) plus ``_file`` and ``_row`` saying where each row came from. Values may still be
loosely typed (strings for timestamps are fine); ``connectors.validate`` coerces them to the canonical
schema and sends every row that fails to the quarantine with file, row, field and reason. Records a parser
cannot even map (broken JSON line, missing object) become :class:`Rejection` entries, never silent drops.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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


@dataclass
class Batch:
    """Mapped records from one file or one API page, before validation."""

    source: str
    interactions: pl.DataFrame
    events: pl.DataFrame = field(default_factory=pl.DataFrame)
    rejections: list[Rejection] = field(default_factory=list)
    # Replication key value covered by this batch; stored in the same transaction as its rows.
    bookmark: str | None = None
    # (path, sha256) of the file this batch came from, remembered so an unchanged file is not re-read.
    file_fingerprint: tuple[str, str] | None = None

    @property
    def record_count(self) -> int:
        return self.interactions.height + len(self.rejections)
