"""Zammad tickets exported from ``GET /api/v1/tickets?expand=true`` (JSON array, page object or JSONL).

``expand=true`` adds readable names beside the ids (``state``, ``priority``, ``group``, ``organization``,
``owner``, ``customer``); without it the numeric ids are kept as names. Zammad leaves every escalation and
SLA column null until it applies, so nulls are normal here, not errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from connectors.config import ZammadFilesConfig
from connectors.parsing import (
    BatchBuilder,
    ParsedFile,
    RecordError,
    id_text,
    map_value,
    read_json_records,
    text_or_none,
    to_utc,
)
from servicelens.model import Channel, EventType, Priority, Status

STATE_MAP: dict[str, str] = {
    "new": Status.NEW,
    "open": Status.OPEN,
    "pending reminder": Status.PENDING,
    "pending close": Status.PENDING,
    "closed": Status.CLOSED,
    "merged": Status.CLOSED,
    "removed": Status.CLOSED,
}
# Default state ids of a fresh Zammad, for exports without expand=true.
STATE_IDS = {
    "1": "new",
    "2": "open",
    "3": "pending reminder",
    "4": "closed",
    "5": "merged",
    "6": "removed",
    "7": "pending close",
}
PRIORITY_MAP: dict[str, str] = {
    "1 low": Priority.LOW,
    "2 normal": Priority.NORMAL,
    "3 high": Priority.HIGH,
    "1": Priority.LOW,
    "2": Priority.NORMAL,
    "3": Priority.HIGH,
}
CHANNEL_MAP: dict[str, str] = {
    "email": Channel.EMAIL,
    "phone": Channel.PHONE,
    "web": Channel.WEB,
    "chat": Channel.CHAT,
    "sms": Channel.PHONE,
    "twitter status": Channel.SOCIAL,
    "twitter direct-message": Channel.SOCIAL,
    "facebook feed post": Channel.SOCIAL,
    "telegram personal-message": Channel.SOCIAL,
    "whatsapp message": Channel.SOCIAL,
    "note": Channel.OTHER,
}
_LIST_KEYS = ("tickets", "assets")
_NO_OWNER = "-"  # Zammad's name for "nobody"


def parse_zammad_file(path: Path, options: ZammadFilesConfig) -> ParsedFile:
    builder = BatchBuilder(options.source_name, path.name)
    for record in read_json_records(path, _LIST_KEYS):
        if record.data is None:
            builder.reject(record.row, None, record.error or "unreadable record", record.raw)
            continue
        try:
            values = _map_ticket(record.data, options)
        except RecordError as exc:
            builder.reject(record.row, exc.field, exc.reason, record.raw)
            continue
        builder.add_interaction(record.row, values)
        for article in record.data.get("articles") or []:
            _add_article(builder, record.row, values["external_id"], article)
    return ParsedFile(builder.build())


def _map_ticket(ticket: dict[str, Any], options: ZammadFilesConfig) -> dict[str, Any]:
    external_id = id_text(ticket.get("number")) or id_text(ticket.get("id"))
    if external_id is None:
        raise RecordError("number", "ticket without a number or id")
    state = ticket.get("state") or STATE_IDS.get(id_text(ticket.get("state_id")) or "")
    status = map_value(state, "state", STATE_MAP, options.status_map)
    owner = text_or_none(ticket.get("owner"))
    close_at = to_utc(ticket.get("close_at"), "close_at")
    last_close_at = to_utc(ticket.get("last_close_at"), "last_close_at")
    custom = ticket.get(options.location_field) if options.location_field else None
    return {
        "external_id": external_id,
        "channel": map_value(
            ticket.get("create_article_type"),
            "create_article_type",
            CHANNEL_MAP,
            options.channel_map,
            Channel.OTHER,
        ),
        "location": text_or_none(custom)
        if options.location_field
        else text_or_none(ticket.get("organization")) or id_text(ticket.get("organization_id")),
        "team": text_or_none(ticket.get("group")) or id_text(ticket.get("group_id")),
        "agent": (owner if owner != _NO_OWNER else None) if "owner" in ticket else _owner_id(ticket),
        "customer": text_or_none(ticket.get("customer")) or id_text(ticket.get("customer_id")),
        "priority": map_value(
            ticket.get("priority") or id_text(ticket.get("priority_id")),
            "priority",
            PRIORITY_MAP,
            options.priority_map,
        ),
        "status": status,
        "subject": text_or_none(ticket.get("title")),
        "created_at": to_utc(ticket.get("created_at"), "created_at"),
        "first_response_at": to_utc(ticket.get("first_response_at"), "first_response_at"),
        "resolved_at": last_close_at or close_at if status in {Status.CLOSED, Status.SOLVED} else None,
        "closed_at": last_close_at or close_at if status == Status.CLOSED else None,
        "updated_at": to_utc(ticket.get("updated_at"), "updated_at"),
        "tags": [str(t) for t in ticket.get("tags") or []],
    }


def _owner_id(ticket: dict[str, Any]) -> str | None:
    owner_id = id_text(ticket.get("owner_id"))
    return None if owner_id in {None, "1"} else owner_id  # user 1 is Zammad's placeholder for "unassigned"


def _add_article(builder: BatchBuilder, row: int, external_id: str, article: Any) -> None:
    """Articles embedded by some exports: customer messages, agent replies and internal notes."""
    if not isinstance(article, dict):
        builder.reject(row, "articles", "article is not an object", article)
        return
    try:
        at = to_utc(article.get("created_at"), "articles.created_at")
    except RecordError as exc:
        builder.reject(row, exc.field, exc.reason, article)
        return
    if at is None:
        builder.reject(row, "articles.created_at", "article without a time", article)
        return
    sender = str(article.get("sender") or "").lower()
    if article.get("internal"):
        kind = EventType.INTERNAL_NOTE
    elif sender == "customer":
        kind = EventType.CUSTOMER_MESSAGE
    elif sender == "agent":
        kind = EventType.AGENT_REPLY
    else:
        kind = EventType.INTERNAL_NOTE  # system articles (triggers, auto-replies) are not human responses
    builder.add_event(
        row,
        external_id,
        {
            "at": at,
            "type": kind,
            "author": text_or_none(article.get("from")),
            "body": text_or_none(article.get("body")),
        },
    )
