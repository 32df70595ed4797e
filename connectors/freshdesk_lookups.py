"""What the files of one Freshdesk export folder tell about each other's tickets.

Freshdesk sends status, priority and source as numbers: :class:`FreshdeskLookups` decodes them with
Freshdesk's documented codes, overridden by the ``ticket_fields`` records of the export when present (custom
statuses live there), and holds group, agent and company names, requesters' e-mails, satisfaction ratings
and the ids of every ticket seen. :func:`collect_freshdesk_lookups` gathers them from every JSON file of the
folder, as the API returns each of them from its own endpoint.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectors.files import UnreadableFileError
from connectors.parsing import JSON_SUFFIXES, JsonRecord, id_text, read_json_records

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
LIST_KEYS = (
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
REFERENCE_STREAMS = (
    "groups",
    "agents",
    "companies",
    "contacts",
    "ticket_fields",
    "business_hours",
    "surveys",
)
# Streams whose records other files of the folder need: reference data, ratings, and the tickets themselves.
COLLECTED_STREAMS = (*REFERENCE_STREAMS, "satisfaction_ratings", "tickets")


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


def stream_of(record: JsonRecord) -> str | None:
    """The stream of a record: the list it came in, else guessed from its fields; None when unknown."""
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
            for record in read_json_records(path, LIST_KEYS):
                stream = stream_of(record)
                if record.data is not None and stream in COLLECTED_STREAMS:
                    lookups.add(stream, record.data, record.row)
        except UnreadableFileError:
            continue  # reported with its reason when the file itself is parsed
    return lookups
