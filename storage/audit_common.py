"""What every module of the audit store shares: its error, its ids, and UTC-checked timestamps and frames."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import polars as pl

from storage.sqlio import as_utc


class AuditStoreError(ValueError):
    """A write that would break the audit record (a conflicting revision, a dispute decided twice, ...)."""


def new_id(prefix: str) -> str:
    """A short random id such as ``rv-3f9c0a1b2d4e5f60``; the prefix says what it names."""
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def _utc(value: datetime, what: str) -> datetime:
    # SQLite keeps the wall-clock text only, so every stored instant must already be UTC.
    if value.tzinfo is None:
        raise AuditStoreError(f"{what}: timestamp {value.isoformat()} has no time zone")
    return value.astimezone(UTC)


def _frame(rows: Sequence[Any], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    converted = [
        tuple(
            as_utc(v) if isinstance(schema[name], pl.Datetime) else v
            for name, v in zip(schema, row, strict=True)
        )
        for row in rows
    ]
    return pl.DataFrame(converted, schema=schema, orient="row")
