"""Small builders of canonical rows for tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from servicelens.model import EVENT_SCHEMA, INTERACTION_SCHEMA

BASE = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def interaction(external_id: str, source: str = "generic", **overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "interaction_id": f"{source}:{external_id}",
        "source": source,
        "external_id": external_id,
        "channel": "email",
        "location": "London",
        "team": "Billing",
        "agent": "ann",
        "customer": f"cust-{external_id}",
        "priority": "normal",
        "status": "solved",
        "subject": "Wrong invoice",
        "created_at": BASE,
        "first_response_at": BASE + timedelta(minutes=30),
        "resolved_at": BASE + timedelta(hours=3),
        "closed_at": None,
        "updated_at": BASE + timedelta(hours=3),
        "reopens": 0,
        "csat": 5,
        "nps": 9,
        "ces": 6,
        "tags": ["billing"],
    }
    row.update(overrides)
    return row


def interactions_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=INTERACTION_SCHEMA)


def event(interaction_id: str, at: datetime, type_: str, **overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "interaction_id": interaction_id,
        "at": at,
        "type": type_,
        "status": None,
        "author": "ann",
        "body": None,
    }
    row.update(overrides)
    return row


def events_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=EVENT_SCHEMA)
