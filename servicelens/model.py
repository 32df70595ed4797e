"""The canonical interaction model shared by every part of servicelens.

Every connector maps its source into these two tables; every metric reads them. Timestamps are
timezone-aware and always UTC here: local time exists only inside the calendar code of ``sla/``.
"""

from __future__ import annotations

from enum import StrEnum

import polars as pl


class Channel(StrEnum):
    EMAIL = "email"
    CHAT = "chat"
    PHONE = "phone"
    SOCIAL = "social"
    WEB = "web"
    OTHER = "other"


class Priority(StrEnum):
    URGENT = "urgent"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


class EventType(StrEnum):
    CUSTOMER_MESSAGE = "customer_message"
    AGENT_REPLY = "agent_reply"  # a public reply the customer sees
    INTERNAL_NOTE = "internal_note"  # private; never counts as a response
    STATUS_CHANGE = "status_change"
    ASSIGNMENT = "assignment"


class Status(StrEnum):
    """Canonical lifecycle statuses. Connectors map vendor statuses onto these."""

    NEW = "new"
    OPEN = "open"
    PENDING = "pending"  # waiting on the customer
    ON_HOLD = "on_hold"  # waiting on a third party / internal team
    SOLVED = "solved"
    CLOSED = "closed"


UTC_DATETIME = pl.Datetime("us", "UTC")

INTERACTION_SCHEMA: dict[str, pl.DataType] = {
    "interaction_id": pl.String(),
    "source": pl.String(),
    "external_id": pl.String(),
    "channel": pl.String(),
    "location": pl.String(),
    "team": pl.String(),
    "agent": pl.String(),
    "customer": pl.String(),
    "priority": pl.String(),
    "status": pl.String(),
    "subject": pl.String(),
    "created_at": UTC_DATETIME,
    "first_response_at": UTC_DATETIME,
    "resolved_at": UTC_DATETIME,
    "closed_at": UTC_DATETIME,
    "updated_at": UTC_DATETIME,
    "reopens": pl.Int32(),
    "csat": pl.Int8(),
    "nps": pl.Int8(),
    "ces": pl.Int8(),
    "tags": pl.List(pl.String()),
}

EVENT_SCHEMA: dict[str, pl.DataType] = {
    "interaction_id": pl.String(),
    "at": UTC_DATETIME,
    "type": pl.String(),
    "status": pl.String(),
    "author": pl.String(),
    "body": pl.String(),
}

# Documentation of every field; the README's model section is checked against this by a test.
INTERACTION_FIELDS: dict[str, str] = {
    "interaction_id": "`source:external_id`; unique across all sources",
    "source": "name of the connector or import that delivered the row (e.g. `zendesk`, `generic`)",
    "external_id": "the ticket / conversation id in the source system",
    "channel": "one of " + ", ".join(c.value for c in Channel),
    "location": "site, branch or store the interaction belongs to",
    "team": "team or group that handled it",
    "agent": "agent assigned at the end (name or id)",
    "customer": "customer id or e-mail, used for repeat-contact (FCR) detection",
    "priority": "one of " + ", ".join(p.value for p in Priority),
    "status": "current status: " + ", ".join(s.value for s in Status),
    "subject": "subject line or first words of the request",
    "created_at": "when the customer opened the interaction (UTC, required)",
    "first_response_at": "first public agent reply (UTC, empty when none yet)",
    "resolved_at": "last time it was solved (UTC, empty when unresolved)",
    "closed_at": "when it was closed for good (UTC)",
    "updated_at": "last change in the source (UTC, required); newer rows win on upsert",
    "reopens": "how many times it was reopened after being solved (>= 0)",
    "csat": "customer satisfaction answer 1-5, empty when not rated",
    "nps": "likelihood to recommend 0-10, empty when not asked or not answered",
    "ces": "customer effort score 1-7 (7 = very easy), empty when not answered",
    "tags": "list of tags; in CSV a `|`- or `,`-separated string, in NDJSON/Parquet a list",
}

EVENT_FIELDS: dict[str, str] = {
    "interaction_id": "the interaction this event belongs to (`source:external_id`)",
    "at": "when it happened (UTC, required)",
    "type": "one of " + ", ".join(t.value for t in EventType),
    "status": "the new status, for `status_change` events",
    "author": "who wrote or did it (agent, customer or system)",
    "body": "message text, for transcripts; shown escaped, never rendered",
}

INTERACTION_REQUIRED = ("external_id", "created_at", "updated_at")
EVENT_REQUIRED = ("interaction_id", "at", "type")


def interaction_id(source: str, external_id: str) -> str:
    """The source-qualified id used as the primary key everywhere."""
    return f"{source}:{external_id}"


def interaction_id_expr(source: pl.Expr, external_id: pl.Expr) -> pl.Expr:
    return pl.concat_str([source, pl.lit(":"), external_id]).alias("interaction_id")


def empty_interactions() -> pl.DataFrame:
    return pl.DataFrame(schema=INTERACTION_SCHEMA)


def empty_events() -> pl.DataFrame:
    return pl.DataFrame(schema=EVENT_SCHEMA)
