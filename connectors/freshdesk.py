"""Freshdesk exports: API JSON (tickets with ``stats``, conversations, ratings, groups, agents, companies),
Airbyte JSONL, and the CSV ticket export of the Freshdesk UI.

Freshdesk sends status, priority and source as numbers. They are decoded with Freshdesk's documented codes,
overridden by the ``ticket_fields`` records of the export when present (custom statuses live there). Names,
requesters' e-mails and satisfaction ratings are joined across every file of an export folder
(:func:`collect_freshdesk_lookups`), as the API returns each of them from its own endpoint. A rating's
``default_question`` is CSAT; the custom survey questions named by ``nps_question`` / ``ces_question`` give
NPS and CES.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from connectors.base import Batch
from connectors.config import FreshdeskApiConfig, FreshdeskFilesConfig
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
    resolve_zone,
    text_or_none,
    to_utc,
)
from connectors.zendesk import survey_score
from servicelens.model import Channel, EventType, Priority, Status

FreshdeskOptions = FreshdeskFilesConfig | FreshdeskApiConfig

DEFAULT_STATUS_CODES = {
    "2": "Open",
    "3": "Pending",
    "4": "Resolved",
    "5": "Closed",
    "6": "Waiting on Customer",
    "7": "Waiting on Third Party",
}
DEFAULT_PRIORITY_CODES = {"1": "Low", "2": "Medium", "3": "High", "4": "Urgent"}
DEFAULT_SOURCE_CODES = {
    "1": "Email",
    "2": "Portal",
    "3": "Phone",
    "4": "Forum",
    "5": "Twitter",
    "6": "Facebook",
    "7": "Chat",
    "8": "MobiHelp",
    "9": "Feedback Widget",
    "10": "Outbound Email",
    "11": "Ecommerce",
    "12": "Bot",
    "13": "Whatsapp",
}
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
_LIST_KEYS = (
    "results",
    "tickets",
    "conversations",
    "groups",
    "agents",
    "companies",
    "contacts",
    "ticket_fields",
    "satisfaction_ratings",
)
_REFERENCE_STREAMS = (
    "groups",
    "agents",
    "companies",
    "contacts",
    "ticket_fields",
    "business_hours",
    "surveys",
)
# Streams whose records other files of the folder need: reference data, ratings, and the tickets themselves.
_COLLECTED_STREAMS = (*_REFERENCE_STREAMS, "satisfaction_ratings", "tickets")


@dataclass
class FreshdeskLookups:
    """Code and id decoders gathered from ticket_fields, groups, agents and companies records."""

    status: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_STATUS_CODES))
    priority: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_PRIORITY_CODES))
    source: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_SOURCE_CODES))
    groups: dict[str, str] = field(default_factory=dict)
    agents: dict[str, str] = field(default_factory=dict)
    companies: dict[str, str] = field(default_factory=dict)
    business_hours: list[dict[str, Any]] = field(default_factory=list)
    contacts: dict[str, str] = field(default_factory=dict)  # contact id -> e-mail
    ratings: dict[str | None, JsonRecord] = field(default_factory=dict)  # newest rating, by ticket id
    tickets: set[str] = field(default_factory=set)  # ids of every ticket seen

    def add(self, stream: str, data: dict[str, Any], row: int = 0) -> None:
        key = id_text(data.get("id"))
        if stream == "tickets":
            self.remember_ticket(data)
        elif stream == "satisfaction_ratings":
            self._add_rating(data, row)
        elif stream == "ticket_fields":
            self._add_field(data)
        elif stream == "business_hours":
            if all(id_text(known.get("id")) != key for known in self.business_hours):
                self.business_hours.append(data)
        elif key and stream == "groups" and data.get("name"):
            self.groups[key] = str(data["name"])
        elif key and stream == "agents":
            contact = data.get("contact") or {}
            name = contact.get("name") or contact.get("email") or data.get("name")
            if name:
                self.agents[key] = str(name)
        elif key and stream == "companies" and data.get("name"):
            self.companies[key] = str(data["name"])
        elif key and stream == "contacts" and data.get("email"):
            self.contacts[key] = str(data["email"])

    def remember_ticket(self, ticket: dict[str, Any]) -> None:
        """The ticket's id and its embedded requester's e-mail (for conversations of other files)."""
        if (ticket_id := id_text(ticket.get("id"))) is not None:
            self.tickets.add(ticket_id)
        requester = ticket.get("requester") or {}
        contact_id = id_text(requester.get("id") or ticket.get("requester_id"))
        if contact_id is not None and requester.get("email"):
            self.contacts[contact_id] = str(requester["email"])

    def _add_rating(self, data: dict[str, Any], row: int) -> None:
        """Keep the newest rating per ticket (a survey can be answered again)."""
        ticket_id = id_text(data.get("ticket_id"))
        stamp = str(data.get("updated_at") or data.get("created_at") or "")
        previous = self.ratings.get(ticket_id)
        if previous is None or stamp >= str((previous.data or {}).get("updated_at") or ""):
            answers = data.get("ratings") if isinstance(data.get("ratings"), dict) else {}
            kept = {"ticket_id": data.get("ticket_id"), "updated_at": stamp, "ratings": answers}
            self.ratings[ticket_id] = JsonRecord(row, "satisfaction_ratings", kept, "")

    def _add_field(self, data: dict[str, Any]) -> None:
        choices = data.get("choices")
        name = data.get("name")
        if not isinstance(choices, dict):
            return
        if name == "status":  # {"2": ["Open", "Being Processed"], ...}: code -> [agent label, customer label]
            for code, labels in choices.items():
                label = labels[0] if isinstance(labels, list) and labels else labels
                self.status[str(code)] = str(label)
        elif name in {"priority", "source"}:  # {"Low": 1, ...}: label -> code
            getattr(self, str(name)).update({str(code): str(label) for label, code in choices.items()})
        elif name in {"group", "agent"}:
            table = self.groups if name == "group" else self.agents
            for label, code in choices.items():
                table.setdefault(str(code), str(label))


def _stream_of(record: JsonRecord) -> str | None:
    if record.stream:
        return "tickets" if record.stream == "results" else record.stream
    data = record.data or {}
    if "incoming" in data and "private" in data:
        return "conversations"
    if "ratings" in data and "ticket_id" in data:
        return "satisfaction_ratings"
    if "ticket_scope" in data or ("contact" in data and "available" in data):
        return "agents"
    if "choices" in data:
        return "ticket_fields"
    if "domains" in data and "name" in data:
        return "companies"
    if "email" in data and ({"view_all_tickets", "other_emails", "unique_external_id"} & data.keys()):
        return "contacts"
    if "working_hours" in data:
        return "business_hours"
    if "status" in data and ({"stats", "requester_id", "priority", "subject"} & data.keys()):
        return "tickets"
    if "name" in data and (
        {"auto_ticket_assign", "unassigned_for", "escalate_to", "business_hour_id"} & data.keys()
    ):
        return "groups"
    return None


def collect_freshdesk_lookups(paths: Iterable[Path]) -> FreshdeskLookups:
    """Decoders, e-mails, ratings and ticket ids from every JSON file of an export folder, so a tickets file
    can use a separate groups, agents, companies or satisfaction_ratings file."""
    lookups = FreshdeskLookups()
    for path in paths:
        if path.suffix.lower() not in JSON_SUFFIXES:
            continue
        try:
            for record in read_json_records(path, _LIST_KEYS):
                stream = _stream_of(record)
                if record.data is not None and stream in _COLLECTED_STREAMS:
                    lookups.add(stream, record.data, record.row)
        except UnreadableFileError:
            continue  # reported with its reason when the file itself is parsed
    return lookups


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
    for record in read_json_records(path, _LIST_KEYS):
        stream = _stream_of(record)
        if record.data is None or stream is None:
            builder.reject(
                record.row, None, record.error or "not a Freshdesk record this parser knows", record.raw
            )
            continue
        streams.setdefault(stream, []).append(record)
        if stream in _COLLECTED_STREAMS:
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
        other_streams={k: len(v) for k, v in streams.items() if k not in _REFERENCE_STREAMS},
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
