"""Small builders of canonical interactions and events for the SLA tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import polars as pl

from servicelens.model import EVENT_SCHEMA, INTERACTION_SCHEMA


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def interactions(rows: Sequence[dict[str, Any]]) -> pl.LazyFrame:
    filled = []
    for row in rows:
        full: dict[str, Any] = dict.fromkeys(INTERACTION_SCHEMA)
        full.update({"source": "test", "tags": [], "updated_at": row.get("created_at")})
        full.update(row)
        full.setdefault("external_id", row["interaction_id"])
        filled.append(full)
    return pl.DataFrame(filled, schema=INTERACTION_SCHEMA).lazy()


def events(rows: Sequence[tuple[str, datetime, str] | tuple[str, datetime, str, str]]) -> pl.LazyFrame:
    """``(interaction_id, at, type[, status])`` tuples."""
    data = [
        {"interaction_id": r[0], "at": r[1], "type": r[2], "status": r[3] if len(r) > 3 else None}
        for r in rows
    ]
    return pl.DataFrame(data, schema=EVENT_SCHEMA).lazy()
