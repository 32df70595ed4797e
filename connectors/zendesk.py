"""Zendesk exports: incremental ticket export pages, ticket audit pages, and Airbyte JSONL envelopes.

Streams used: tickets, ticket_metrics (first reply, solved time, reopens), ticket_audits (status history,
assignments, comments), ticket_comments, satisfaction_ratings, and groups / organizations / users for
readable names. schedules and sla_policies are returned beside the batch for the SLA engine.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from connectors.config import ZendeskApiConfig, ZendeskFilesConfig
from connectors.tabular import (
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

ZendeskOptions = ZendeskFilesConfig | ZendeskApiConfig

STATUS_MAP: dict[str, str] = {
    "new": Status.NEW,
    "open": Status.OPEN,
    "pending": Status.PENDING,
    "hold": Status.ON_HOLD,
    "on-hold": Status.ON_HOLD,
    "solved": Status.SOLVED,
    "closed": Status.CLOSED,
}
PRIORITY_MAP: dict[str, str] = {p.value: p for p in Priority}
# via.channel values from Zendesk's "Via object reference"; anything else is `other`.
CHANNEL_MAP: dict[str, str] = {
    **dict.fromkeys(["email", "mail"], Channel.EMAIL),
    **dict.fromkeys(
        ["web", "web_form", "web_widget", "web_service", "help_center", "mobile", "mobile_sdk"], Channel.WEB
    ),
    **dict.fromkeys(
        ["chat", "chat_transcript", "native_messaging", "messaging", "sunshine_conversations"], Channel.CHAT
    ),
    **dict.fromkeys(
        ["voice", "phone", "phone_call_inbound", "phone_call_outbound", "sms", "text"], Channel.PHONE
    ),
    **dict.fromkeys(
        [
            "twitter",
            "twitter_dm",
            "facebook",
            "facebook_post",
            "facebook_messenger",
            "instagram_dm",
            "whatsapp",
            "line",
            "wechat",
            "telegram",
            "viber",
            "google_rcs",
            "apple_business_chat",
            "kakaotalk",
        ],
        Channel.SOCIAL,
    ),
}
_LIST_KEYS = (
    "tickets",
    "audits",
    "ticket_audits",
    "ticket_metrics",
    "comments",
    "satisfaction_ratings",
    "groups",
    "organizations",
    "users",
    "schedules",
    "sla_policies",
    "ticket_events",
)
_END_USER_ROLES = {"end-user", "end_user"}


def parse_zendesk_file(path: Path, options: ZendeskOptions) -> ParsedFile:
    """Map one Zendesk export file (JSON page or JSONL) onto canonical interactions and events."""
    builder = BatchBuilder(options.source_name, path.name)
    streams: dict[str, list[JsonRecord]] = defaultdict(list)
    for record in read_json_records(path, _LIST_KEYS):
        if record.data is None:
            builder.reject(record.row, None, record.error or "unreadable record", record.raw)
        else:
            streams[_stream_of(record)].append(record)
    names = _Names(streams)
    metrics = {id_text(r.data.get("ticket_id")): r for r in streams.pop("ticket_metrics", []) if r.data}
    ratings = _latest_ratings(streams.pop("satisfaction_ratings", []))
    requesters: dict[str, str] = {}
    for record in streams.pop("tickets", []):
        assert record.data is not None
        try:
            values = _map_ticket(record.data, options, names, metrics, ratings)
        except RecordError as exc:
            builder.reject(record.row, exc.field, exc.reason, record.raw)
            continue
        if values is None:
            continue
        requesters[values["external_id"]] = id_text(record.data.get("requester_id")) or ""
        builder.add_interaction(record.row, values)
    for leftover, label in ((metrics, "ticket_metrics"), (ratings, "satisfaction rating")):
        for ticket_id, record in leftover.items():
            builder.reject(
                record.row,
                "ticket_id",
                f"{label} for ticket {ticket_id}, which is not in this file",
                record.raw,
            )
    for record in streams.pop("ticket_audits", []) + streams.pop("audits", []):
        _add_audit_events(builder, record, options, names, requesters)
    for record in streams.pop("ticket_comments", []):
        assert record.data is not None
        comment = record.data
        try:
            _add_comment(
                builder,
                record.row,
                comment.get("ticket_id"),
                comment,
                comment.get("created_at"),
                names,
                requesters,
            )
        except RecordError as exc:
            builder.reject(record.row, exc.field, exc.reason, record.raw)
    return ParsedFile(
        batch=builder.build(),
        schedules=[r.data for r in streams.pop("schedules", []) if r.data],
        sla_policies=[r.data for r in streams.pop("sla_policies", []) if r.data],
        other_streams={name: len(records) for name, records in streams.items() if name not in _Names.STREAMS},
    )


def _stream_of(record: JsonRecord) -> str:
    if record.stream == "ticket_metric":
        return "ticket_metrics"
    if record.stream:
        return record.stream
    data = record.data or {}
    if "events" in data and "ticket_id" in data:
        return "ticket_audits"
    if "reply_time_in_minutes" in data:
        return "ticket_metrics"
    return "tickets"


class _Names:
    """Readable names and roles from the groups, organizations and users streams."""

    STREAMS = ("groups", "organizations", "users")

    def __init__(self, streams: dict[str, list[JsonRecord]]):
        self.by_stream: dict[str, dict[str, str]] = {}
        self.roles: dict[str, str] = {}
        for stream in self.STREAMS:
            table: dict[str, str] = {}
            for record in streams.get(stream, []):
                data = record.data or {}
                key = id_text(data.get("id"))
                if key is None:
                    continue
                label = text_or_none(data.get("name")) or text_or_none(data.get("email"))
                if label:
                    table[key] = label
                if stream == "users" and data.get("role"):
                    self.roles[key] = str(data["role"])
            self.by_stream[stream] = table

    def name(self, stream: str, value: Any) -> str | None:
        key = id_text(value)
        return None if key is None else self.by_stream[stream].get(key, key)


def _latest_ratings(records: list[JsonRecord]) -> dict[str | None, JsonRecord]:
    """The newest answered rating per ticket (offered-but-unanswered ratings carry no score)."""
    latest: dict[str | None, JsonRecord] = {}
    for record in records:
        data = record.data or {}
        if str(data.get("score", "")).lower() not in {"good", "bad"}:
            continue
        ticket_id = id_text(data.get("ticket_id"))
        previous = latest.get(ticket_id)
        if previous is None or str(data.get("updated_at", "")) >= str(
            (previous.data or {}).get("updated_at", "")
        ):
            latest[ticket_id] = record
    return latest


def csat_from_score(score: Any, options: ZendeskOptions) -> int | None:
    """Zendesk rates good/bad; these become ``csat_good``/``csat_bad`` (default 5 and 1), others empty."""
    value = str(score or "").lower()
    if value == "good":
        return options.csat_good
    if value == "bad":
        return options.csat_bad
    return None


def _map_ticket(
    ticket: dict[str, Any],
    options: ZendeskOptions,
    names: _Names,
    metrics: dict[str | None, JsonRecord],
    ratings: dict[str | None, JsonRecord],
) -> dict[str, Any] | None:
    external_id = id_text(ticket.get("id"))
    if external_id is None:
        raise RecordError("id", "ticket without an id")
    tags = [str(t) for t in ticket.get("tags") or []]
    status = _status(ticket.get("status"), "status", options)
    if str(ticket.get("status", "")).lower() == "deleted":
        tags.append("deleted")
    created_at = to_utc(ticket.get("created_at"), "created_at")
    updated_at = to_utc(ticket.get("updated_at"), "updated_at") or created_at
    metric = (metrics.pop(external_id).data or {}) if external_id in metrics else {}
    rating = (
        (ratings.pop(external_id).data or {}) if external_id in ratings else ticket.get("satisfaction_rating")
    )
    via = ticket.get("via") or {}
    return {
        "external_id": external_id,
        "channel": map_value(
            via.get("channel"), "via.channel", CHANNEL_MAP, options.channel_map, Channel.OTHER
        ),
        "location": _location(ticket, options, names),
        "team": names.name("groups", ticket.get("group_id")),
        "agent": names.name("users", ticket.get("assignee_id")),
        "customer": names.name("users", ticket.get("requester_id")),
        "priority": map_value(ticket.get("priority"), "priority", PRIORITY_MAP, options.priority_map),
        "status": status,
        "subject": text_or_none(ticket.get("subject")),
        "created_at": created_at,
        "first_response_at": _after_minutes(created_at, metric.get("reply_time_in_minutes")),
        "resolved_at": to_utc(metric.get("solved_at"), "ticket_metrics.solved_at"),
        "closed_at": updated_at if status == Status.CLOSED else None,  # closed tickets never change again
        "updated_at": updated_at,
        "reopens": metric.get("reopens"),
        "csat": csat_from_score((rating or {}).get("score"), options) if isinstance(rating, dict) else None,
        "tags": tags,
    }


def _status(value: Any, field_name: str, options: ZendeskOptions) -> str | None:
    """Deleted tickets have no canonical status: kept as closed (tagged `deleted`) or rejected, per config."""
    if str(value or "").lower() == "deleted":
        if options.deleted_tickets == "reject":
            raise RecordError(field_name, "ticket was deleted in Zendesk")
        return Status.CLOSED
    return map_value(value, field_name, STATUS_MAP, options.status_map)


def _location(ticket: dict[str, Any], options: ZendeskOptions, names: _Names) -> str | None:
    if options.location_field:
        for custom in ticket.get("custom_fields") or ticket.get("fields") or []:
            if isinstance(custom, dict) and str(custom.get("id")) == options.location_field:
                return text_or_none(custom.get("value"))
        return None
    return names.name("organizations", ticket.get("organization_id"))


def _after_minutes(start: datetime | None, minutes: Any) -> datetime | None:
    """Zendesk reports reply time as calendar minutes after creation (minute precision)."""
    calendar = minutes.get("calendar") if isinstance(minutes, dict) else None
    if start is None or calendar is None:
        return None
    return start + timedelta(minutes=float(calendar))


def _add_audit_events(
    builder: BatchBuilder,
    record: JsonRecord,
    options: ZendeskOptions,
    names: _Names,
    requesters: dict[str, str],
) -> None:
    audit = record.data or {}
    ticket_id = id_text(audit.get("ticket_id"))
    try:
        if ticket_id is None:
            raise RecordError("ticket_id", "audit without a ticket id")
        at = to_utc(audit.get("created_at"), "created_at")
        if at is None:
            raise RecordError("created_at", "audit without a time")
    except RecordError as exc:
        builder.reject(record.row, exc.field, exc.reason, record.raw)
        return
    author = names.name("users", audit.get("author_id"))
    events = [e for e in audit.get("events") or [] if isinstance(e, dict)]
    for event in events:  # the requester is set in the same audit as the first comment
        if event.get("field_name") == "requester_id" and event.get("value"):
            requesters[ticket_id] = str(event["value"])
    for index, event in enumerate(events):
        try:
            if event.get("type") == "Comment":
                _add_comment(
                    builder, record.row, ticket_id, event, audit.get("created_at"), names, requesters
                )
            elif event.get("type") in {"Create", "Change"} and event.get("field_name") == "status":
                status = _status(event.get("value"), f"events[{index}].value", options)
                builder.add_event(
                    record.row,
                    ticket_id,
                    {"at": at, "type": EventType.STATUS_CHANGE, "status": status, "author": author},
                )
            elif (
                event.get("type") in {"Create", "Change"}
                and event.get("field_name") == "assignee_id"
                and event.get("value")
            ):
                builder.add_event(
                    record.row,
                    ticket_id,
                    {
                        "at": at,
                        "type": EventType.ASSIGNMENT,
                        "author": author,
                        "body": names.name("users", event.get("value")),
                    },
                )
        except RecordError as exc:
            builder.reject(record.row, exc.field, exc.reason, record.raw)


def _add_comment(
    builder: BatchBuilder,
    row: int,
    ticket_value: Any,
    comment: dict[str, Any],
    created_at: Any,
    names: _Names,
    requesters: dict[str, str],
) -> None:
    ticket_id = id_text(ticket_value)
    if ticket_id is None:
        raise RecordError("ticket_id", "comment without a ticket id")
    at = to_utc(comment.get("created_at") or created_at, "created_at")
    if at is None:
        raise RecordError("created_at", "comment without a time")
    author_id = id_text(comment.get("author_id"))
    if not comment.get("public", True):
        kind = EventType.INTERNAL_NOTE
    elif author_id is not None and author_id in names.roles:
        end_user = names.roles[author_id].lower() in _END_USER_ROLES
        kind = EventType.CUSTOMER_MESSAGE if end_user else EventType.AGENT_REPLY
    elif ticket_id in requesters:
        kind = EventType.CUSTOMER_MESSAGE if author_id == requesters[ticket_id] else EventType.AGENT_REPLY
    else:
        raise RecordError(
            "author_id",
            f"cannot tell whether author {author_id} is the customer: ticket "
            f"{ticket_id} and the users stream are not in this file",
        )
    body = comment.get("plain_body") or comment.get("body")
    builder.add_event(
        row,
        ticket_id,
        {"at": at, "type": kind, "author": names.name("users", author_id), "body": text_or_none(body)},
    )
