"""Intercom conversations: Airbyte JSONL envelopes (conversations, conversation_parts, admins, teams) or the
JSON body of ``GET /conversations`` / ``/conversations/{id}``. Timestamps are epoch seconds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from connectors.config import IntercomFilesConfig
from connectors.parsing import (
    BatchBuilder,
    JsonRecord,
    ParsedFile,
    RecordError,
    id_text,
    map_value,
    read_json_records,
    text_or_none,
    to_utc,
)
from servicelens.model import Channel, EventType, Priority, Status

STATE_MAP: dict[str, str] = {"open": Status.OPEN, "snoozed": Status.PENDING, "closed": Status.SOLVED}
PRIORITY_MAP: dict[str, str] = {"priority": Priority.HIGH, "not_priority": Priority.NORMAL}
CHANNEL_MAP: dict[str, str] = {
    "conversation": Channel.CHAT,
    "chat": Channel.CHAT,
    "email": Channel.EMAIL,
    "phone_call": Channel.PHONE,
    "phone": Channel.PHONE,
    "twitter": Channel.SOCIAL,
    "facebook": Channel.SOCIAL,
    "whatsapp": Channel.SOCIAL,
    "instagram": Channel.SOCIAL,
    "push": Channel.OTHER,
    "sms": Channel.PHONE,
}
_CUSTOMER_AUTHORS = {"user", "lead", "contact"}
_PART_STATUS = {"open": Status.OPEN, "close": Status.SOLVED, "snoozed": Status.PENDING}
_LIST_KEYS = ("conversations", "conversation_parts")


def parse_intercom_file(path: Path, options: IntercomFilesConfig) -> ParsedFile:
    builder = BatchBuilder(options.source_name, path.name)
    names: dict[str, dict[str, str]] = {"admins": {}, "teams": {}}
    conversations: list[JsonRecord] = []
    parts: list[tuple[JsonRecord, dict[str, Any], Any]] = []
    for record in read_json_records(path, _LIST_KEYS):
        data = record.data
        if data is None:
            builder.reject(record.row, None, record.error or "unreadable record", record.raw)
            continue
        stream = record.stream or (
            "conversation_parts" if data.get("type") == "conversation_part" else "conversations"
        )
        if stream in names:
            if id_text(data.get("id")):
                names[stream][str(data["id"])] = str(data.get("name") or data.get("email") or data["id"])
        elif stream == "conversation_parts":
            parts.append((record, data, data.get("conversation_id")))
        else:
            conversations.append(record)
            embedded = (data.get("conversation_parts") or {}).get("conversation_parts") or []
            parts.extend((record, part, data.get("id")) for part in embedded if isinstance(part, dict))
    for record in conversations:
        try:
            builder.add_interaction(record.row, _map_conversation(record.data or {}, options, names))
        except RecordError as exc:
            builder.reject(record.row, exc.field, exc.reason, record.raw)
    for record, part, conversation_id in parts:
        try:
            _add_part(builder, record.row, conversation_id, part, options, names)
        except RecordError as exc:
            builder.reject(record.row, exc.field, exc.reason, part)
    return ParsedFile(builder.build())


def _map_conversation(
    data: dict[str, Any], options: IntercomFilesConfig, names: dict[str, dict[str, str]]
) -> dict[str, Any]:
    external_id = id_text(data.get("id"))
    if external_id is None:
        raise RecordError("id", "conversation without an id")
    stats = data.get("statistics") or {}
    source = data.get("source") or {}
    contacts = (data.get("contacts") or {}).get("contacts") or []
    assignee = data.get("admin_assignee_id") or (data.get("assignee") or {}).get("id")
    team = id_text(data.get("team_assignee_id"))
    status = map_value(
        data.get("state") or ("open" if data.get("open") else None), "state", STATE_MAP, options.status_map
    )
    tags = (data.get("tags") or {}).get("tags") or []
    rating = (data.get("conversation_rating") or {}).get("rating")
    last_close = to_utc(stats.get("last_close_at"), "statistics.last_close_at")
    return {
        "external_id": external_id,
        "channel": map_value(
            source.get("type"), "source.type", CHANNEL_MAP, options.channel_map, Channel.OTHER
        ),
        "location": text_or_none((data.get("custom_attributes") or {}).get(options.location_field))
        if options.location_field
        else None,
        "team": names["teams"].get(team or "", team),
        "agent": names["admins"].get(str(assignee), str(assignee)) if assignee else None,
        "customer": id_text(contacts[0].get("id")) if contacts and isinstance(contacts[0], dict) else None,
        "priority": map_value(data.get("priority"), "priority", PRIORITY_MAP, options.priority_map),
        "status": status,
        "subject": text_or_none(source.get("subject")),
        "created_at": to_utc(data.get("created_at"), "created_at"),
        "first_response_at": to_utc(stats.get("first_admin_reply_at"), "statistics.first_admin_reply_at"),
        "resolved_at": last_close if status == Status.SOLVED else None,
        "updated_at": to_utc(data.get("updated_at"), "updated_at"),
        "reopens": stats.get("count_reopens"),
        "csat": rating if isinstance(rating, int) and 1 <= rating <= 5 else None,  # Intercom rates 1-5
        "tags": [str(t.get("name")) for t in tags if isinstance(t, dict) and t.get("name")],
    }


def _add_part(
    builder: BatchBuilder,
    row: int,
    conversation_id: Any,
    part: dict[str, Any],
    options: IntercomFilesConfig,
    names: dict[str, dict[str, str]],
) -> None:
    external_id = id_text(conversation_id)
    if external_id is None:
        raise RecordError("conversation_id", "part without a conversation id")
    at = to_utc(part.get("created_at"), "created_at")
    if at is None:
        raise RecordError("created_at", "part without a time")
    author = part.get("author") or {}
    author_type = str(author.get("type") or "").lower()
    author_name = text_or_none(author.get("name")) or names["admins"].get(
        str(author.get("id")), id_text(author.get("id"))
    )
    part_type = str(part.get("part_type") or "").lower()
    values: dict[str, Any] = {"at": at, "author": author_name, "body": text_or_none(part.get("body"))}
    if part_type in _PART_STATUS:
        values.update(type=EventType.STATUS_CHANGE, status=_PART_STATUS[part_type])
    elif part_type in {"assignment", "assign_and_reopen", "default_assignment"}:
        assignee = id_text((part.get("assigned_to") or {}).get("id"))
        values.update(type=EventType.ASSIGNMENT, body=names["admins"].get(assignee or "", assignee))
    elif part_type == "note":
        values["type"] = EventType.INTERNAL_NOTE
    elif author_type in _CUSTOMER_AUTHORS:
        values["type"] = EventType.CUSTOMER_MESSAGE
    elif author_type == "admin" or (author_type == "bot" and options.bot_replies_count_as_response):
        values["type"] = EventType.AGENT_REPLY
    elif author_type == "bot":
        values["type"] = EventType.INTERNAL_NOTE  # automated replies must not count as a first response
    else:
        raise RecordError("author.type", f"unknown author type {author_type!r} for part {part.get('id')}")
    builder.add_event(row, external_id, values)
