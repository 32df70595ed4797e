"""What the files of one Zendesk export folder tell about each other's tickets: readable names, e-mail
addresses and roles (groups, organizations, users), ticket metrics, satisfaction ratings and requesters.

:func:`collect_zendesk_context` reads them from every JSON file of the folder, so a ratings page or an
audits page needs no copy of the tickets, and keeps what it decoded for the parse of the same run;
:func:`decode_zendesk_file` sorts one file's records by stream, its tickets as typed columns.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from connectors.files import UnreadableFileError, cyclic_gc_paused
from connectors.parsing import (
    JSON_SUFFIXES,
    BatchBuilder,
    JsonList,
    JsonRecord,
    id_text,
    read_json_chunks,
    text_or_none,
)
from connectors.zendesk_columns import RECORD_BYTES, TicketColumns, TicketSource, ticket_columns

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
# Estimated memory of the decoded files kept between context collection and parsing: bounds the memory.
# Tickets are kept as typed columns (about 100-300 bytes each), other records whole (about 1-2 KB each).
KEEP_DECODED_BYTES = 512 * 1024 * 1024
TICKETS = "tickets"


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

    def add_decoded(self, decoded: DecodedFile) -> None:
        self.add_streams(decoded.streams)
        self.add_tickets(decoded.tickets)

    def add_tickets(self, tickets: TicketColumns) -> None:
        """The ids of the file's tickets, and their requesters (a later ticket of the same id wins)."""
        if not tickets.odd:  # every id and requester is a whole number or null: read from the columns
            self._add_ticket_columns(tickets.frame["id"].cast(pl.String), tickets.frame["requester_id"])
            return
        ids = tickets.id_texts()
        self.tickets.update(ticket_id for ticket_id in ids if ticket_id is not None)
        self.requesters.update(
            (ticket_id, requester)
            for ticket_id, requester in zip(ids, tickets.requester_texts(), strict=True)
            if ticket_id is not None and requester
        )

    def _add_ticket_columns(self, ids: pl.Series, requesters: pl.Series) -> None:
        self.tickets.update(ids.to_list())
        if requesters.null_count() < requesters.len():
            known = requesters.is_not_null()
            pairs = zip(
                ids.filter(known).to_list(), requesters.filter(known).cast(pl.String).to_list(), strict=True
            )
            self.requesters.update(pairs)

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


@dataclass
class DecodedFile:
    """One file's records sorted by stream (tickets as typed columns), as decoded while collecting the
    context and kept for its parse in the same run."""

    stamp: tuple[int, int]  # (mtime_ns, size) when decoded: a file changed since is decoded again
    streams: dict[str, list[JsonRecord]]  # every stream but the tickets
    tickets: TicketColumns
    undecodable: list[JsonRecord]

    def estimated_bytes(self) -> int:
        whole_records = sum(map(len, self.streams.values())) + len(self.undecodable)
        return RECORD_BYTES * whole_records + self.tickets.estimated_bytes()

    def reject_undecodable(self, builder: BatchBuilder) -> None:
        for record in self.undecodable:
            builder.reject(record.row, None, record.error or "unreadable record", record.raw)


def _stamp(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_size


def decode_zendesk_file(path: Path) -> DecodedFile:
    """One file's records by stream; its tickets as :class:`TicketColumns` that still hold their records.
    A file that is not JSON at all raises :class:`connectors.files.UnreadableFileError`."""
    stamp = _stamp(path)
    streams: dict[str, list[JsonRecord]] = defaultdict(list)
    undecodable: list[JsonRecord] = []
    tickets = TicketSource()
    # The decoded tickets live until their columns are built: collections started meanwhile would move
    # them to older generations, whose passes also walk the folder's ever larger sets of ids.
    with cyclic_gc_paused():
        for chunk in read_json_chunks(path, _LIST_KEYS, whole_lists=(TICKETS,)):
            if isinstance(chunk, JsonList):
                tickets.add_list(chunk, undecodable)
            elif chunk.data is None:
                undecodable.append(chunk)
            elif (stream := _stream_of(chunk)) == TICKETS:
                tickets.add_record(chunk)
            else:
                streams[stream].append(chunk)
        return DecodedFile(stamp, streams, ticket_columns(tickets), undecodable)


def collect_zendesk_context(
    paths: Iterable[Path], keep_decoded_bytes: int = KEEP_DECODED_BYTES
) -> ZendeskContext:
    """Names, metrics, ratings and requesters from every JSON file of an export folder (files that cannot be
    read are left out here).

    What the first files decoded, up to ``keep_decoded_bytes`` (estimated) in all, stays in the context so
    that parsing them in the same run does not decode them again (see :meth:`ZendeskContext.take_decoded`).
    """
    context = ZendeskContext()
    kept = 0
    for path in paths:
        if path.suffix.lower() in JSON_SUFFIXES:
            try:
                decoded = decode_zendesk_file(path)
            except UnreadableFileError:
                continue  # reported with its reason when the file itself is parsed
            context.add_decoded(decoded)
            decoded.tickets.source = None  # the columns hold what the parse needs
            size = decoded.estimated_bytes()
            if kept + size <= keep_decoded_bytes:
                kept += size
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
    return TICKETS
