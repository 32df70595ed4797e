"""Zendesk exports: incremental ticket export pages with sideloads, ticket audit and satisfaction rating
pages, and Airbyte JSONL envelopes.

Streams used: tickets, ticket_metrics (also as the ``metric_sets`` sideload: first reply, solved time,
reopens), ticket_audits (status history, assignments, comments), ticket_comments, satisfaction_ratings, and
groups / organizations / users for readable names. schedules and sla_policies are returned beside the batch
for the SLA engine. Names, metrics, ratings and requesters are joined across every file of an export folder
(:func:`connectors.zendesk_context.collect_zendesk_context`), so a ratings page or an audits page needs no copy of the tickets.
Zendesk rates satisfaction good/bad only; NPS and CES come from the ticket custom fields a survey integration
writes (``nps_field`` / ``ces_field``).
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from connectors.config import ZendeskApiConfig, ZendeskFilesConfig
from connectors.parsing import (
    BatchBuilder,
    JsonRecord,
    ParsedFile,
    RecordError,
    id_text,
    map_value,
    survey_score,
    text_or_none,
    to_utc,
)
from connectors.zendesk_context import ZendeskContext, ZendeskNames, read_zendesk_streams
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


def parse_zendesk_file(
    path: Path, options: ZendeskOptions, context: ZendeskContext | None = None
) -> ParsedFile:
    """Map one Zendesk export file (JSON page or JSONL) onto canonical interactions and events.

    ``context`` holds what the other files of the folder know (names, metrics, ratings); without it only
    this file is used.
    """
    builder = BatchBuilder(options.source_name, path.name)
    decoded = context.take_decoded(path) if context is not None else None
    if decoded is None:
        streams = read_zendesk_streams(path, builder)
    else:  # decoded once while collecting the folder's context
        decoded.reject_undecodable(builder)
        streams = decoded.streams
    context = context or ZendeskContext()
    context.add_streams(streams)  # this file's records win over older copies from other files
    names = context.names
    for record in streams.pop("tickets", []):
        assert record.data is not None
        try:
            values = map_ticket(record.data, options, names, context.metrics, context.ratings)
        except RecordError as exc:
            builder.reject(record.row, exc.field, exc.reason, record.raw)
            continue
        builder.add_interaction(record.row, values)
    ratings = [r for r in streams.pop("satisfaction_ratings", []) if _is_answered(r)]
    for label, records in (
        ("ticket_metrics", streams.pop("ticket_metrics", [])),
        ("satisfaction rating", ratings),
    ):
        for record in records:
            ticket_id = id_text((record.data or {}).get("ticket_id"))
            if ticket_id not in context.tickets:
                builder.reject(
                    record.row,
                    "ticket_id",
                    f"{label} for ticket {ticket_id}, which is in no file of this export",
                    record.raw,
                )
    for record in streams.pop("ticket_audits", []):
        add_audit_events(builder, record, options, names, context.requesters)
    for record in streams.pop("ticket_comments", []) + streams.pop("comments", []):
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
                context.requesters,
            )
        except RecordError as exc:
            builder.reject(record.row, exc.field, exc.reason, record.raw)
    return ParsedFile(
        batch=builder.build(),
        schedules=[r.data for r in streams.pop("schedules", []) if r.data],
        sla_policies=[r.data for r in streams.pop("sla_policies", []) if r.data],
        other_streams={
            name: len(records) for name, records in streams.items() if name not in ZendeskNames.STREAMS
        },
    )


def _is_answered(record: JsonRecord) -> bool:
    return str((record.data or {}).get("score", "")).lower() in {"good", "bad"}


def csat_from_score(score: Any, options: ZendeskOptions) -> int | None:
    """Zendesk rates good/bad; these become ``csat_good``/``csat_bad`` (default 5 and 1), others empty."""
    value = str(score or "").lower()
    if value == "good":
        return options.csat_good
    if value == "bad":
        return options.csat_bad
    return None


def map_ticket(
    ticket: dict[str, Any],
    options: ZendeskOptions,
    names: ZendeskNames,
    metrics: Mapping[str | None, JsonRecord],
    ratings: Mapping[str | None, JsonRecord],
) -> dict[str, Any]:
    """One ticket as canonical interaction values; ``metrics`` and ``ratings`` are keyed by ticket id.

    A rating of the satisfaction_ratings stream wins over the ticket's own ``satisfaction_rating``.
    """
    external_id = id_text(ticket.get("id"))
    if external_id is None:
        raise RecordError("id", "ticket without an id")
    tags = [str(t) for t in ticket.get("tags") or []]
    status = _status(ticket.get("status"), "status", options)
    if str(ticket.get("status", "")).lower() == "deleted":
        tags.append("deleted")
    created_at = to_utc(ticket.get("created_at"), "created_at")
    updated_at = to_utc(ticket.get("updated_at"), "updated_at") or created_at
    metric = (metrics[external_id].data or {}) if external_id in metrics else {}
    rating = (
        (ratings[external_id].data or {}) if external_id in ratings else ticket.get("satisfaction_rating")
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
        "customer": names.customer(ticket.get("requester_id")),
        "priority": map_value(ticket.get("priority"), "priority", PRIORITY_MAP, options.priority_map),
        "status": status,
        "subject": text_or_none(ticket.get("subject")),
        "created_at": created_at,
        "first_response_at": _after_minutes(created_at, metric.get("reply_time_in_minutes")),
        "resolved_at": to_utc(metric.get("solved_at"), "ticket_metrics.solved_at"),
        "closed_at": updated_at if status == Status.CLOSED else None,  # closed tickets never change again
        "updated_at": updated_at,
        "reopens": metric.get("reopens"),
        "csat": csat_from_score(rating.get("score"), options) if isinstance(rating, dict) else None,
        "nps": _survey_field(ticket, options.nps_field, "nps"),
        "ces": _survey_field(ticket, options.ces_field, "ces"),
        "tags": tags,
    }


def _status(value: Any, field_name: str, options: ZendeskOptions) -> str | None:
    """Deleted tickets have no canonical status: kept as closed (tagged `deleted`) or rejected, per config."""
    if str(value or "").lower() == "deleted":
        if options.deleted_tickets == "reject":
            raise RecordError(field_name, "ticket was deleted in Zendesk")
        return Status.CLOSED
    return map_value(value, field_name, STATUS_MAP, options.status_map)


def _custom_field(ticket: dict[str, Any], field_id: str) -> Any:
    """The value of a ticket custom field (``custom_fields``, else ``fields``), None when absent."""
    for custom in ticket.get("custom_fields") or ticket.get("fields") or []:
        if isinstance(custom, dict) and str(custom.get("id")) == field_id:
            return custom.get("value")
    return None


def _location(ticket: dict[str, Any], options: ZendeskOptions, names: ZendeskNames) -> str | None:
    if options.location_field:
        return text_or_none(_custom_field(ticket, options.location_field))
    return names.name("organizations", ticket.get("organization_id"))


def _survey_field(ticket: dict[str, Any], field_id: int | None, score: str) -> int | None:
    """An NPS or CES answer a survey integration wrote into a ticket custom field."""
    if field_id is None:
        return None
    return survey_score(_custom_field(ticket, str(field_id)), f"custom_fields[id={field_id}]", score)


def _after_minutes(start: datetime | None, minutes: Any) -> datetime | None:
    """Zendesk reports reply time as calendar minutes after creation (minute precision)."""
    calendar = minutes.get("calendar") if isinstance(minutes, dict) else None
    if start is None or calendar is None:
        return None
    return start + timedelta(minutes=float(calendar))


def add_audit_events(
    builder: BatchBuilder,
    record: JsonRecord,
    options: ZendeskOptions,
    names: ZendeskNames,
    requesters: MutableMapping[str, str],
) -> None:
    """Events of one audit: status changes, assignments and comments; ``requesters`` (ticket id -> user
    id) tells customers from agents when the users stream does not, and learns from creating audits."""
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
    author = names.author(audit.get("author_id"))
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
    names: ZendeskNames,
    requesters: Mapping[str, str],
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
    elif author_id is not None and (end_user := names.is_end_user(author_id)) is not None:
        kind = EventType.CUSTOMER_MESSAGE if end_user else EventType.AGENT_REPLY
    elif ticket_id in requesters:
        kind = EventType.CUSTOMER_MESSAGE if author_id == requesters[ticket_id] else EventType.AGENT_REPLY
    else:
        raise RecordError(
            "author_id",
            f"cannot tell whether author {author_id} is the customer: ticket "
            f"{ticket_id} and its author are in no file of this export",
        )
    body = comment.get("plain_body") or comment.get("body")
    builder.add_event(
        row,
        ticket_id,
        {"at": at, "type": kind, "author": names.author(author_id), "body": text_or_none(body)},
    )
