"""Builders of small canonical frames for the audit tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from servicelens.model import EVENT_SCHEMA, INTERACTION_SCHEMA

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def interactions_frame(
    rows: Sequence[dict[str, Any]], extra: dict[str, pl.DataType] | None = None
) -> pl.DataFrame:
    """Canonical interactions; missing fields are null, plus any extra columns (e.g. language)."""
    schema = {**INTERACTION_SCHEMA, **(extra or {})}
    full = [{name: row.get(name) for name in schema} for row in rows]
    return pl.DataFrame(full, schema=schema)


def transcript(
    interaction_id: str, *messages: tuple[str, str, str], start: datetime = T0
) -> list[dict[str, Any]]:
    """Events from (type, author, body) triples, one minute apart; ``type`` is "customer" or "agent"."""
    kinds = {"customer": "customer_message", "agent": "agent_reply", "note": "internal_note"}
    return [
        {
            "interaction_id": interaction_id,
            "at": start + timedelta(minutes=i),
            "type": kinds[kind],
            "status": None,
            "author": author,
            "body": body,
        }
        for i, (kind, author, body) in enumerate(messages)
    ]


def events_frame(rows: Sequence[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=EVENT_SCHEMA)
