"""Freshdesk exports: API JSON (tickets with ``stats``, conversations, ratings, groups, agents, companies),
Airbyte JSONL, and the CSV ticket export of the Freshdesk UI.

Freshdesk sends status, priority and source as numbers; they are decoded, and names, requesters' e-mails and
satisfaction ratings joined across every file of an export folder, by
:class:`connectors.freshdesk_lookups.FreshdeskLookups`. A rating's ``default_question`` is CSAT; the custom
survey questions named by ``nps_question`` / ``ces_question`` give NPS and CES.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from connectors.base import Batch
from connectors.config import FreshdeskApiConfig, FreshdeskFilesConfig
from connectors.freshdesk_lookups import (
    COLLECTED_STREAMS,
    LIST_KEYS,
    REFERENCE_STREAMS,
    FreshdeskLookups,
    stream_of,
)
from connectors.parsing import (
    BatchBuilder,
    JsonRecord,
    ParsedFile,
    RecordError,
    id_text,
    map_value,
    read_json_records,
    resolve_zone,
    survey_score,
    text_or_none,
    to_utc,
)
from servicelens.model import Channel, EventType, Priority, Status

FreshdeskOptions = FreshdeskFilesConfig | FreshdeskApiConfig

STATUS_LABELS: dict[str, str] = {
    "open": Status.OPEN,
    "pending": Status.PENDING,
    "resolved": Status.SOLVED,
    "closed": Status.CLOSED,
    "waiting on customer": Status.PENDING,
    "waiting on third party": Status.ON_HOLD,
}
PRIORITY_LABELS: dict[str, str] = {
    "low": Priority.LOW,
    "medium": Priority.NORMAL,
    "high": Priority.HIGH,
    "urgent": Priority.URGENT,
}
SOURCE_LABELS: dict[str, str] = {
    **dict.fromkeys(["email", "outbound email"], Channel.EMAIL),
    **dict.fromkeys(["portal", "feedback widget", "mobihelp", "ecommerce", "forum"], Channel.WEB),
    "phone": Channel.PHONE,
    **dict.fromkeys(["chat", "bot"], Channel.CHAT),
    **dict.fromkeys(["twitter", "facebook", "whatsapp", "instagram"], Channel.SOCIAL),
}
# Freshdesk satisfaction answers (-103 extremely unhappy ... 103 extremely happy) onto CSAT 1-5.
RATING_TO_CSAT = {103: 5, 102: 4, 101: 4, 100: 3, -101: 2, -102: 2, -103: 1}
SURVEY_LABELS_TO_CSAT = {
    "extremely happy": 5,
    "very happy": 4,
    "happy": 4,
    "neutral": 3,
    "unhappy": 2,
    "very unhappy": 2,
    "extremely unhappy": 1,
}


def parse_freshdesk_file(
    path: Path, options: FreshdeskOptions, lookups: FreshdeskLookups | None = None
) -> ParsedFile:
    """Map one Freshdesk export file onto canonical interactions and events.

    ``lookups`` holds what the other files of the folder know; without it only this file is used.
    """
    if path.suffix.lower() == ".csv":
        return ParsedFile(parse_freshdesk_csv(path, options, lookups or FreshdeskLookups()))
    builder = BatchBuilder(options.source_name, path.name)
    lookups = lookups or FreshdeskLookups()
    streams: dict[str, list[JsonRecord]] = {}
    for record in read_json_records(path, LIST_KEYS):
        stream = stream_of(record)
        if record.data is None or stream is None:
            builder.reject(
                record.row, None, record.error or "not a Freshdesk record this parser knows", record.raw
            )
            continue
        streams.setdefault(stream, []).append(record)
        if stream in COLLECTED_STREAMS:
            lookups.add(stream, record.data, record.row)
    for record in streams.pop("tickets", []):
        ticket = record.data or {}
        try:
            values = map_ticket(ticket, options, lookups, lookups.ratings)
            events = ticket_events(ticket, values)
        except RecordError as exc:
            builder.reject(record.row, exc.field, exc.reason, record.raw)
            continue
        builder.add_interaction(record.row, values)
        for event in events:
            builder.add_event(record.row, values["external_id"], event)
    for record in streams.pop("satisfaction_ratings", []):
        ticket_id = id_text((record.data or {}).get("ticket_id"))
        if ticket_id not in lookups.tickets:
            builder.reject(
                record.row,
                "ticket_id",
                f"satisfaction rating for ticket {ticket_id}, which is in no file of this export",
                record.raw,
            )
    for record in streams.pop("conversations", []):
        try:
            add_conversation(builder, record, lookups)
        except RecordError as exc:
            builder.reject(record.row, exc.field, exc.reason, record.raw)
    return ParsedFile(
        batch=builder.build(),
        schedules=[r.data for r in streams.get("business_hours", []) if r.data],
        other_streams={k: len(v) for k, v in streams.items() if k not in REFERENCE_STREAMS},
    )


def _decode(value: Any, codes: dict[str, str]) -> Any:
    """A numeric code as its label (labels pass through unchanged)."""
    key = id_text(value)
    return codes.get(key, value) if key is not None else None


def _status(value: Any, field_name: str, options: FreshdeskOptions, lookups: FreshdeskLookups) -> str | None:
    code = id_text(value)
    if code is not None and code in {k.lower() for k in options.status_map}:
        return map_value(code, field_name, {}, options.status_map)
    return map_value(_decode(value, lookups.status), field_name, STATUS_LABELS, options.status_map)


def csat_from_rating(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and not value.lstrip("-").isdigit():
        return SURVEY_LABELS_TO_CSAT.get(value.strip().lower())
    return RATING_TO_CSAT.get(int(value))


def map_ticket(
    ticket: dict[str, Any],
    options: FreshdeskOptions,
    lookups: FreshdeskLookups,
    ratings: Mapping[str | None, JsonRecord],
) -> dict[str, Any]:
    """One ticket as canonical interaction values; ``ratings`` are satisfaction ratings by ticket id.

    The ticket's embedded requester is remembered in ``lookups`` so its conversations name the customer.
    """
    external_id = id_text(ticket.get("id"))
    if external_id is None:
        raise RecordError("id", "ticket without an id")
    lookups.remember_ticket(ticket)
    stats = ticket.get("stats") or {}
    rating = ratings.get(external_id)
    answers = ((rating.data or {}).get("ratings") or {}) if rating else {}
    requester = ticket.get("requester") or {}
    requester_id = id_text(ticket.get("requester_id") or requester.get("id"))
    custom = ticket.get("custom_fields") or ticket.get("custom_field") or {}
    reopened = stats.get("reopened_at")
    return {
        "external_id": external_id,
        "channel": map_value(
            ticket.get("source_name") or _decode(ticket.get("source"), lookups.source),
            "source",
            SOURCE_LABELS,
            options.channel_map,
            Channel.OTHER,
        ),
        "location": text_or_none(custom.get(options.location_field))
        if options.location_field
        else _name(lookups.companies, ticket.get("company_id")),
        "team": _name(lookups.groups, ticket.get("group_id")),
        "agent": ticket.get("responder_name") or _name(lookups.agents, ticket.get("responder_id")),
        "customer": text_or_none(requester.get("email")) or _name(lookups.contacts, requester_id),
        "priority": map_value(
            ticket.get("priority_name") or _decode(ticket.get("priority"), lookups.priority),
            "priority",
            PRIORITY_LABELS,
            options.priority_map,
        ),
        "status": _status(ticket.get("status_name") or ticket.get("status"), "status", options, lookups),
        "subject": text_or_none(ticket.get("subject")),
        "created_at": to_utc(ticket.get("created_at"), "created_at"),
        "first_response_at": to_utc(stats.get("first_responded_at"), "stats.first_responded_at"),
        "resolved_at": to_utc(stats.get("resolved_at"), "stats.resolved_at"),
        "closed_at": to_utc(stats.get("closed_at"), "stats.closed_at"),
        "updated_at": to_utc(ticket.get("updated_at"), "updated_at"),
        # Freshdesk keeps only the last reopen time, so a reopened ticket counts as reopened once.
        "reopens": (1 if reopened else 0) if stats else None,
        "csat": csat_from_rating(answers.get("default_question")),
        "nps": _survey_answer(answers, options.nps_question, "nps"),
        "ces": _survey_answer(answers, options.ces_question, "ces"),
        "tags": [str(t) for t in ticket.get("tags") or []],
    }


def _survey_answer(answers: dict[str, Any], question: str | None, score: str) -> int | None:
    """The answer to the custom survey question configured for NPS or CES (``question_<id>``)."""
    if question is None:
        return None
    return survey_score(answers.get(question), f"ratings.{question}", score)


# stats field -> the status a ticket entered at that time. Freshdesk keeps only the latest of each.
_STATS_STATUSES = (
    ("pending_since", Status.PENDING),
    ("reopened_at", Status.OPEN),
    ("resolved_at", Status.SOLVED),
    ("closed_at", Status.CLOSED),
)


def ticket_events(ticket: dict[str, Any], values: dict[str, Any]) -> list[dict[str, Any]]:
    """The events a ticket record itself carries: the first customer message and a partial status history.

    The first message is ``description_text`` (else ``description``) at ``created_at``, by the customer.
    Freshdesk exports no status history, only the latest time of some transitions in ``stats``: the ticket
    is open at ``created_at``, and pending / open / solved / closed at ``pending_since`` / ``reopened_at`` /
    ``resolved_at`` / ``closed_at``; the current status holds from ``status_updated_at``. Earlier pauses
    and repeated transitions are not in the export, so this history is partial. Without ``stats`` there is
    no status history at all.
    """
    created_at: datetime | None = values["created_at"]
    events: list[dict[str, Any]] = []
    description = text_or_none(ticket.get("description_text")) or text_or_none(ticket.get("description"))
    if description and created_at is not None:
        events.append(
            {
                "at": created_at,
                "type": EventType.CUSTOMER_MESSAGE,
                "author": values["customer"],
                "body": description,
            }
        )
    stats = ticket.get("stats")
    if not isinstance(stats, dict) or created_at is None:
        return events
    changes: list[tuple[datetime, str]] = [(created_at, Status.OPEN)]
    for name, entered in _STATS_STATUSES:
        if (at := to_utc(stats.get(name), f"stats.{name}")) is not None:
            changes.append((at, entered))
    current_since = to_utc(stats.get("status_updated_at"), "stats.status_updated_at")
    if current_since is not None and values["status"] is not None:
        changes.append((current_since, values["status"]))
    changes.sort(key=lambda change: change[0])  # stable: the current status stays last among equal times
    previous: str | None = None
    for at, status in changes:
        if status != previous:  # a repeated status adds nothing the history does not already say
            events.append({"at": at, "type": EventType.STATUS_CHANGE, "status": str(status)})
        previous = status
    return events


def _name(table: dict[str, str], value: Any) -> str | None:
    key = id_text(value)
    return None if key is None else table.get(key, key)


def add_conversation(builder: BatchBuilder, record: JsonRecord, lookups: FreshdeskLookups) -> None:
    """One conversation as an event: private -> internal note, incoming -> customer message (by the
    contact's e-mail when known), other -> agent reply (by the agent's name when known)."""
    data = record.data or {}
    ticket_id = id_text(data.get("ticket_id"))
    if ticket_id is None:
        raise RecordError("ticket_id", "conversation without a ticket id")
    at = to_utc(data.get("created_at"), "created_at")
    if at is None:
        raise RecordError("created_at", "conversation without a time")
    user_id = id_text(data.get("user_id"))
    if data.get("private"):
        kind = EventType.INTERNAL_NOTE
    elif data.get("incoming"):
        kind = EventType.CUSTOMER_MESSAGE
    else:
        kind = EventType.AGENT_REPLY
    author: str | None = _name(lookups.agents, user_id)
    if kind == EventType.CUSTOMER_MESSAGE and user_id in lookups.contacts:
        author = lookups.contacts[user_id]
    body = data.get("body_text") or data.get("body")
    builder.add_event(
        record.row, ticket_id, {"at": at, "type": kind, "author": author, "body": text_or_none(body)}
    )


# --- CSV ticket export of the Freshdesk UI (Tickets > Export) ---------------------------------------

CSV_COLUMNS = {
    "external_id": "ticket id",
    "subject": "subject",
    "status": "status",
    "priority": "priority",
    "channel": "source",
    "agent": "agent",
    "team": "group",
    "created_at": "created time",
    "resolved_at": "resolved time",
    "closed_at": "closed time",
    "updated_at": "last update time",
    "first_response_at": "initial response time",
    "customer": "contact id",
    "location": "company name",
    "tags": "tags",
    "csat": "survey results",
}


def parse_freshdesk_csv(path: Path, options: FreshdeskOptions, lookups: FreshdeskLookups) -> Batch:
    """The UI export: one row per ticket, labels instead of codes, naive times in the account's time zone."""
    builder = BatchBuilder(options.source_name, path.name)
    zone = resolve_zone(options.time_zone if isinstance(options, FreshdeskFilesConfig) else "UTC")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        headers = {h.strip().lower(): h for h in reader.fieldnames or []}
        missing = [c for c in ("ticket id", "created time") if c not in headers]
        if missing:
            builder.reject(1, ", ".join(missing), "column(s) missing from the Freshdesk CSV header")
            return builder.build()
        for row in reader:
            line = reader.line_num
            get = {
                name: (row.get(headers[col]) or "").strip()
                for name, col in CSV_COLUMNS.items()
                if col in headers
            }
            try:
                builder.add_interaction(line, _map_csv_row(get, options, lookups, zone))
            except RecordError as exc:
                builder.reject(line, CSV_COLUMNS.get(exc.field or "", exc.field), exc.reason, row)
    return builder.build()


def _map_csv_row(
    get: dict[str, str], options: FreshdeskOptions, lookups: FreshdeskLookups, zone: Any
) -> dict[str, Any]:
    if not get.get("external_id"):
        raise RecordError("external_id", "empty ticket id")
    times = {
        k: to_utc(get.get(k), k, zone)
        for k in ("created_at", "resolved_at", "closed_at", "updated_at", "first_response_at")
    }
    return {
        **{
            k: text_or_none(get.get(k))
            for k in ("external_id", "subject", "agent", "team", "customer", "location")
        },
        **times,
        "updated_at": times["updated_at"] or times["created_at"],
        "status": _status(get.get("status"), "status", options, lookups),
        "priority": map_value(get.get("priority"), "priority", PRIORITY_LABELS, options.priority_map),
        "channel": map_value(
            get.get("channel"), "channel", SOURCE_LABELS, options.channel_map, Channel.OTHER
        ),
        "csat": csat_from_rating(get.get("csat")),
        "tags": [t.strip() for t in (get.get("tags") or "").split(",") if t.strip()],
    }
