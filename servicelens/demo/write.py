"""Writes the demo organisation: the generic import format (two Parquet files) or the helpdesks' own exports.

Both are written chunk by chunk from one :class:`~servicelens.demo.generate.DemoPlan`, so memory stays
flat and the same ``interactions``, ``seed`` and ``end`` always give byte-identical files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from servicelens.demo.generate import CHUNK_INTERACTIONS, demo_plan
from servicelens.demo.vendor import VendorExportWriter, vendor_connectors

INTERACTIONS_FILE = "interactions.parquet"
EVENTS_FILE = "events.parquet"
DemoFormat = Literal["generic", "vendor"]
FORMATS: tuple[str, ...] = ("generic", "vendor")


@dataclass(frozen=True)
class DemoSummary:
    out_dir: Path
    interactions: int
    events: int
    first_created: datetime
    cutoff: datetime  # nothing in the files happens at or after this instant
    formats: str = "generic"
    files: dict[str, int] = field(default_factory=dict)  # path relative to out_dir -> size in bytes


class _ParquetAppender:
    """Appends frames to one Parquet file, one row group per frame (zstd, with statistics)."""

    def __init__(self, path: Path):
        self.path = path
        self._writer: pq.ParquetWriter | None = None

    def write(self, frame: pl.DataFrame) -> None:
        table = frame.to_arrow(compat_level=pl.CompatLevel.oldest())
        if self._writer is None:
            self._writer = pq.ParquetWriter(
                self.path, table.schema, compression="zstd", write_statistics=True
            )
        self._writer.write_table(table, row_group_size=max(table.num_rows, 1))

    def close(self, schema: dict[str, Any]) -> None:
        if self._writer is None:  # nothing written: still leave a valid, empty file
            empty: pa.Table = pl.DataFrame(schema=schema).to_arrow(compat_level=pl.CompatLevel.oldest())
            pq.write_table(empty, self.path, compression="zstd")
            return
        self._writer.close()


def generate_demo(
    out_dir: Path,
    interactions: int = 50_000,
    seed: int = 7,
    end: date | None = None,
    formats: DemoFormat = "generic",
    chunk_size: int = CHUNK_INTERACTIONS,
) -> DemoSummary:
    """Write the demo organisation to ``out_dir``.

    ``formats="generic"`` writes interactions.parquet and events.parquet; ``formats="vendor"`` writes each
    site's helpdesk export (Zendesk or Freshdesk, see ``docs/demo.md``) into ``out_dir/<source>/``, to be read
    by the connectors of :func:`demo_connectors`. The data covers the 396 days before ``end`` (default:
    today) and stops at ``end`` 00:00 UTC.
    """
    if formats not in FORMATS:
        raise ValueError(f"formats must be one of {FORMATS}, got {formats!r}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    end = end or datetime.now(UTC).date()
    plan = demo_plan(interactions, seed, end)
    out_dir.mkdir(parents=True, exist_ok=True)
    event_count = 0
    if formats == "generic":
        from servicelens.model import EVENT_SCHEMA, INTERACTION_SCHEMA

        inter_out, events_out = (
            _ParquetAppender(out_dir / INTERACTIONS_FILE),
            _ParquetAppender(out_dir / EVENTS_FILE),
        )
        for inter, events in plan.chunks(chunk_size):
            inter_out.write(inter)
            events_out.write(events)
            event_count += events.height
        inter_out.close(INTERACTION_SCHEMA)
        events_out.close(EVENT_SCHEMA)
        written = [out_dir / INTERACTIONS_FILE, out_dir / EVENTS_FILE]
    else:
        vendor = VendorExportWriter(out_dir)
        for number, (inter, events) in enumerate(plan.chunks(chunk_size), start=1):
            vendor.write(number, inter, events)
            event_count += events.height
        written = vendor.files
    return DemoSummary(
        out_dir=out_dir,
        interactions=plan.size,
        events=event_count,
        first_created=plan.interactions["created_at"].min(),  # type: ignore[arg-type]
        cutoff=datetime(end.year, end.month, end.day, tzinfo=UTC),
        formats=formats,
        files={path.relative_to(out_dir).as_posix(): path.stat().st_size for path in written},
    )


def demo_connectors(out_dir: Path) -> list[dict[str, Any]]:
    """Connector config entries (the ``connectors:`` list) that load the vendor exports in ``out_dir``."""
    return vendor_connectors(out_dir)
