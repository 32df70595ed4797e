"""Zendesk exports: incremental ticket export pages with sideloads, ticket audit and satisfaction rating
pages, and Airbyte JSONL envelopes.

Streams used: tickets, ticket_metrics (also as the ``metric_sets`` sideload: first reply, solved time,
reopens), ticket_audits (status history, assignments, comments), ticket_comments, satisfaction_ratings, and
groups / organizations / users for readable names. schedules and sla_policies are returned beside the batch
for the SLA engine. Names, metrics, ratings and requesters are joined across every file of an export folder
(:func:`collect_zendesk_context`), so a ratings page or an audits page needs no copy of the tickets.
Zendesk rates satisfaction good/bad only; NPS and CES come from the ticket custom fields a survey integration
writes (``nps_field`` / ``ces_field``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from connectors.config import ZendeskApiConfig, ZendeskFilesConfig
from connectors.files import UnreadableFileError
from connectors.parsing import (
    JSON_SUFFIXES,
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
    "metric_sets",
    "comments",
    "satisfaction_ratings",
    "groups",
    "organizations",
    "users",
    "schedules",
    "sla_policies",
    "ticket_events",
)
_STREAM_ALIASES = {
    "ticket_metric": "ticket_metrics",
    "metric_sets": "ticket_metrics",
    "audits": "ticket_audits",
}
_END_USER_ROLES = {"end-user", "end_user"}
SYSTEM_AUTHOR = "system"
_SYSTEM_USER_ID = "-1"  # Zendesk's author of changes made by triggers, automations and the system
# Only these fields of metrics and ratings are kept for joins across files (memory stays small).
_METRIC_FIELDS = ("ticket_id", "reply_time_in_minutes", "solved_at", "reopens")
_RATING_FIELDS = ("ticket_id", "score", "updated_at")


class ZendeskNames:
    """Readable names, e-mail addresses and roles from the groups, organizations and users streams."""

    STREAMS = ("groups", "organizations", "users")

    def __init__(self, streams: Mapping[str, list[JsonRecord]] | None = None):
        self.by_stream: dict[str, dict[str, str]] = {stream: {} for stream in self.STREAMS}
        self.roles: dict[str, str] = {}
        self.emails: dict[str, str] = {}
        for stream in self.STREAMS:
            for record in (streams or {}).get(stream, []):
                self.add(stream, record.data or {})

    def add(self, stream: str, data: dict[str, Any]) -> None:
        key = id_text(data.get("id"))
        if key is None or stream not in self.by_stream:
            return
        label = text_or_none(data.get("name")) or text_or_none(data.get("email"))
        if label:
            self.by_stream[stream][key] = label
        if stream == "users":
            if data.get("role"):
                self.roles[key] = str(data["role"])
            if email := text_or_none(data.get("email")):
                self.emails[key] = email

    def name(self, stream: str, value: Any) -> str | None:
        key = id_text(value)
        return None if key is None else self.by_stream[stream].get(key, key)

    def customer(self, user_id: Any) -> str | None:
        """A requester as a stable id for repeat-contact detection: e-mail, else name, else the user id."""
        key = id_text(user_id)
        return None if key is None else self.emails.get(key) or self.name("users", key)

    def author(self, user_id: Any) -> str | None:
        """Who wrote or did something: ``system`` for Zendesk's own changes, end users by e-mail (as in
        ``customer``), agents by name."""
        key = id_text(user_id)
        if key == _SYSTEM_USER_ID:
            return SYSTEM_AUTHOR
        if key is not None and self.roles.get(key, "").lower() in _END_USER_ROLES:
            return self.customer(key)
        return self.name("users", key)

    def is_end_user(self, user_id: str) -> bool | None:
        """Whether the user is a customer; None when the users stream does not know them."""
        role = self.roles.get(user_id)
        return None if role is None else role.lower() in _END_USER_ROLES


@dataclass
class ZendeskContext:
    """What the files of one export folder tell about each other's tickets."""

    names: ZendeskNames = field(default_factory=ZendeskNames)
    metrics: dict[str | None, JsonRecord] = field(default_factory=dict)  # by ticket id
    ratings: dict[str | None, JsonRecord] = field(default_factory=dict)  # newest answered, by ticket id
    tickets: set[str] = field(default_factory=set)  # ids of every ticket in the folder
    requesters: dict[str, str] = field(default_factory=dict)  # ticket id -> requester user id

    def add_streams(self, streams: Mapping[str, list[JsonRecord]]) -> None:
        for stream in ZendeskNames.STREAMS:
            for record in streams.get(stream, []):
                self.names.add(stream, record.data or {})
        for record in streams.get("ticket_metrics", []):
            self.metrics[id_text((record.data or {}).get("ticket_id"))] = _trimmed(record, _METRIC_FIELDS)
        for record in streams.get("satisfaction_ratings", []):
            self._add_rating(record)
        for record in streams.get("tickets", []):
            ticket = record.data or {}
            ticket_id = id_text(ticket.get("id"))
            if ticket_id is not None:
                self.tickets.add(ticket_id)
                if requester := id_text(ticket.get("requester_id")):
                    self.requesters[ticket_id] = requester

    def _add_rating(self, record: JsonRecord) -> None:
        """Keep the newest answered rating per ticket (offered-but-unanswered ratings carry no score)."""
        data = record.data or {}
        if str(data.get("score", "")).lower() not in {"good", "bad"}:
            return
        ticket_id = id_text(data.get("ticket_id"))
        previous = self.ratings.get(ticket_id)
        if previous is None or str(data.get("updated_at", "")) >= str(
            (previous.data or {}).get("updated_at", "")
        ):
            self.ratings[ticket_id] = _trimmed(record, _RATING_FIELDS)


def _trimmed(record: JsonRecord, keep: tuple[str, ...]) -> JsonRecord:
    data = record.data or {}
    return JsonRecord(record.row, record.stream, {k: data.get(k) for k in keep}, "")


def _read_streams(path: Path, builder: BatchBuilder | None) -> dict[str, list[JsonRecord]]:
    streams: dict[str, list[JsonRecord]] = defaultdict(list)
    for record in read_json_records(path, _LIST_KEYS):
        if record.data is None:
            if builder is not None:
                builder.reject(record.row, None, record.error or "unreadable record", record.raw)
        else:
            streams[_stream_of(record)].append(record)
    return streams


def collect_zendesk_context(paths: Iterable[Path]) -> ZendeskContext:
    """Names, metrics, ratings and requesters from every JSON file of an export folder (files that cannot be
    read are left out here)."""
    context = ZendeskContext()
    for path in paths:
        if path.suffix.lower() in JSON_SUFFIXES:
            try:
                context.add_streams(_read_streams(path, None))
            except UnreadableFileError:
                continue  # reported with its reason when the file itself is parsed
    return context


def parse_zendesk_file(
    path: Path, options: ZendeskOptions, context: ZendeskContext | None = None
) -> ParsedFile:
    """Map one Zendesk export file (JSON page or JSONL) onto canonical interactions and events.

    ``context`` holds what the other files of the folder know (names, metrics, ratings); without it only
    this file is used.
    """
    builder = BatchBuilder(options.source_name, path.name)
    streams = _read_streams(path, builder)
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


def _stream_of(record: JsonRecord) -> str:
    if record.stream:
        return _STREAM_ALIASES.get(record.stream, record.stream)
    data = record.data or {}
    if "events" in data and "ticket_id" in data:
        return "ticket_audits"
    if "reply_time_in_minutes" in data:
        return "ticket_metrics"
    if "score" in data and "ticket_id" in data:
        return "satisfaction_ratings"
    return "tickets"


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


SURVEY_RANGES = {"nps": (0, 10), "ces": (1, 7)}


def survey_score(value: Any, field_name: str, score: str) -> int | None:
    """A survey answer as a whole number within the score's range (``SURVEY_RANGES``); empty gives None.

    Answers arrive as numbers or as text (text custom fields); anything else raises :class:`RecordError`
    naming ``field_name``, so the ticket is quarantined rather than its score silently dropped.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    low, high = SURVEY_RANGES[score]
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or not number.is_integer():
        raise RecordError(field_name, f"{score.upper()} answer {value!r} is not a whole number")
    if not low <= number <= high:
        raise RecordError(field_name, f"{score.upper()} answer {value!r} is outside {low}-{high}")
    return int(number)


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
