"""Helpers for the connector runtime tests: a migrated database per dialect and generic-format files."""

from __future__ import annotations

import csv
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from storage.repo import read_events, read_interactions
from storage.runs import read_quarantine

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
INTERACTION_HEADER = [
    "external_id",
    "channel",
    "location",
    "team",
    "priority",
    "status",
    "created_at",
    "updated_at",
    "csat",
]
EVENT_HEADER = ["interaction_id", "at", "type", "status", "author", "body"]


def interaction_row(i: int, minutes: int = 0, **overrides: Any) -> dict[str, Any]:
    created = T0 + timedelta(minutes=i)
    row = {
        "external_id": str(i),
        "channel": "email",
        "location": "Lyon",
        "team": "Front desk",
        "priority": "normal",
        "status": "open",
        "created_at": created.isoformat(),
        "updated_at": (created + timedelta(minutes=minutes)).isoformat(),
        "csat": "",
    }
    row.update(overrides)
    return row


def event_row(
    i: int, source: str = "shop", kind: str = "customer_message", **overrides: Any
) -> dict[str, Any]:
    row = {
        "interaction_id": f"{source}:{i}",
        "at": (T0 + timedelta(minutes=i, seconds=30)).isoformat(),
        "type": kind,
        "status": "",
        "author": f"c{i}",
        "body": f"hello {i}",
    }
    row.update(overrides)
    return row


def write_csv(path: Path, rows: list[dict[str, Any]], header: list[str]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    settle(path)
    return path


def settle(path: Path) -> None:
    """Date the file an hour back so it counts as completely written."""
    past = (datetime.now(UTC) - timedelta(hours=1)).timestamp()
    os.utime(path, (past, past))


def database_state(engine: sa.Engine) -> dict[str, list[dict[str, Any]]]:
    """Full contents of interactions, events and quarantine, in a stable order (run ids and times aside)."""
    interactions = read_interactions(engine).sort("interaction_id")
    events = read_events(engine).sort(["interaction_id", "at", "type", "body"])
    quarantine = (
        read_quarantine(engine)
        .select("source", "record_kind", "file", "row", "field", "reason", "raw")
        .sort(["file", "row", "field", "reason", "raw"], nulls_last=True)
    )
    return {
        "interactions": interactions.to_dicts(),
        "events": events.to_dicts(),
        "quarantine": quarantine.to_dicts(),
    }
