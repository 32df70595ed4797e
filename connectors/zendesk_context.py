"""What the files of one Zendesk export folder tell about each other's tickets: readable names, e-mail
addresses and roles (groups, organizations, users), ticket metrics, satisfaction ratings and requesters.

:func:`collect_zendesk_context` reads them from every JSON file of the folder, so a ratings page or an
audits page needs no copy of the tickets, and keeps what it decoded for the parse of the same run;
:func:`read_zendesk_streams` sorts one file's records by stream.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectors.files import UnreadableFileError
from connectors.parsing import (
    JSON_SUFFIXES,
    BatchBuilder,
    JsonRecord,
    id_text,
    read_json_records,
    text_or_none,
)

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
# Decoded records kept between context collection and parsing (about 1-2 KB each): bounds the memory.
KEEP_DECODED_RECORDS = 250_000


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
    # Files decoded by collect_zendesk_context and not parsed yet, by resolved path.
    decoded: dict[Path, DecodedFile] = field(default_factory=dict, repr=False)

    def take_decoded(self, path: Path) -> DecodedFile | None:
        """The file's records decoded earlier in this run, once; None when not kept or changed since."""
        decoded = self.decoded.pop(path.resolve(), None)
        if decoded is None:
            return None
        try:
            unchanged = _stamp(path) == decoded.stamp
        except OSError:
            return None  # gone since: the parse reports it
        return decoded if unchanged else None

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


def read_zendesk_streams(path: Path, builder: BatchBuilder | None) -> dict[str, list[JsonRecord]]:
    """One file's decodable records by stream; undecodable ones are rejected in ``builder`` when given."""
    decoded = _decode(path)
    if builder is not None:
        decoded.reject_undecodable(builder)
    return decoded.streams


@dataclass
class DecodedFile:
    """One file's records as decoded while collecting the context, kept for its parse in the same run."""

    stamp: tuple[int, int]  # (mtime_ns, size) when decoded: a file changed since is decoded again
    streams: dict[str, list[JsonRecord]]
    undecodable: list[JsonRecord]

    @property
    def record_count(self) -> int:
        return sum(map(len, self.streams.values())) + len(self.undecodable)

    def reject_undecodable(self, builder: BatchBuilder) -> None:
        for record in self.undecodable:
            builder.reject(record.row, None, record.error or "unreadable record", record.raw)


def _stamp(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_size


def _decode(path: Path) -> DecodedFile:
    stamp = _stamp(path)
    streams: dict[str, list[JsonRecord]] = defaultdict(list)
    undecodable: list[JsonRecord] = []
    for record in read_json_records(path, _LIST_KEYS):
        if record.data is None:
            undecodable.append(record)
        else:
            streams[_stream_of(record)].append(record)
    return DecodedFile(stamp, streams, undecodable)


def collect_zendesk_context(
    paths: Iterable[Path], keep_decoded_records: int = KEEP_DECODED_RECORDS
) -> ZendeskContext:
    """Names, metrics, ratings and requesters from every JSON file of an export folder (files that cannot be
    read are left out here).

    The decoded records of the first files, up to ``keep_decoded_records`` records in all, stay in the
    context so that parsing them in the same run does not decode them again (see
    :meth:`ZendeskContext.take_decoded`).
    """
    context = ZendeskContext()
    kept = 0
    for path in paths:
        if path.suffix.lower() in JSON_SUFFIXES:
            try:
                decoded = _decode(path)
            except UnreadableFileError:
                continue  # reported with its reason when the file itself is parsed
            context.add_streams(decoded.streams)
            if kept + decoded.record_count <= keep_decoded_records:
                kept += decoded.record_count
                context.decoded[path.resolve()] = decoded
    return context


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
