"""What the files of one Zendesk export folder tell about each other's tickets: readable names, e-mail
addresses and roles (groups, organizations, users), ticket metrics, satisfaction ratings and requesters.

:func:`collect_zendesk_context` reads them from every JSON file of the folder, so a ratings page or an
audits page needs no copy of the tickets, and keeps what it decoded for the parse of the same run. Plain
pages of tickets tell nothing but their ticket ids and requesters, which only the metrics, ratings, audits
and comments streams read: they are decoded here only when the folder has such streams
(:mod:`connectors.zendesk_scan` finds them without decoding). :func:`decode_zendesk_file` sorts one file's
records by stream, its tickets as typed columns.
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
from connectors.zendesk_fields import ZendeskOptions, reads_custom_fields
from connectors.zendesk_scan import files_informing_context

PAGE_LIST_KEYS = (
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
# Streams the context is read from.
_READ_STREAMS = ("groups", "organizations", "users", "ticket_metrics", "satisfaction_ratings")
# Streams whose records look up the folder's ticket ids or requesters.
_READING_TICKETS = ("ticket_metrics", "satisfaction_ratings", "ticket_audits", "ticket_comments", "comments")


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
    """What the files of one export folder tell about each other's tickets.

    Ticket ids and requesters are read from the tickets' columns when first looked up (:attr:`tickets`,
    :attr:`requesters`): most folders never look them up, and the columns are cheap to keep.
    """

    names: ZendeskNames = field(default_factory=ZendeskNames)
    metrics: dict[str | None, JsonRecord] = field(default_factory=dict)  # by ticket id
    ratings: dict[str | None, JsonRecord] = field(default_factory=dict)  # newest answered, by ticket id
    # Files decoded by collect_zendesk_context and not parsed yet, by resolved path.
    decoded: dict[Path, DecodedFile] = field(default_factory=dict, repr=False)
    # Plain pages of tickets (as the folder listed them) neither decoded nor kept here.
    plain_files: set[Path] = field(default_factory=set, repr=False)
    version: int = 0  # counts the changes of names, metrics and ratings
    _ticket_ids: set[str] = field(default_factory=set, repr=False)
    _requesters: dict[str, str] = field(default_factory=dict, repr=False)
    _unread_tickets: list[TicketIds] = field(default_factory=list, repr=False)  # in the order added

    @property
    def tickets(self) -> set[str]:
        """Ids of every ticket in the folder."""
        self._read_tickets()
        return self._ticket_ids

    @property
    def requesters(self) -> dict[str, str]:
        """Ticket id -> requester user id (a later ticket of the same id wins); audits add to it."""
        self._read_tickets()
        return self._requesters

    def take_decoded(self, path: Path) -> DecodedFile | None:
        """The file's records decoded earlier in this run, once; None when not kept or changed since."""
        if not self.decoded:  # resolving the path costs system calls
            return None
        decoded = self.decoded.pop(path.resolve(), None)
        if decoded is None:
            return None
        try:
            unchanged = file_stamp(path) == decoded.stamp
        except OSError:
            return None  # gone since: the parse reports it
        return decoded if unchanged else None

    def add_streams(self, streams: Mapping[str, list[JsonRecord]]) -> None:
        if any(streams.get(stream) for stream in _READ_STREAMS):
            self.version += 1
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
        """The ids of the file's tickets, and their requesters, read when first looked up."""
        self._unread_tickets.append(TicketIds.of(tickets))

    def _read_tickets(self) -> None:
        for ids in self._unread_tickets:
            ids.add_to(self._ticket_ids, self._requesters)
        self._unread_tickets.clear()

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


@dataclass
class TicketIds:
    """The ids and requester ids of one file's tickets, as its columns hold them; odd tickets by position,
    as ``id_text`` of their values."""

    ids: pl.Series  # Int64, null for odd tickets
    requesters: pl.Series | None  # Int64; None when no ticket has one
    odd: dict[int, tuple[str | None, str | None]]

    @classmethod
    def of(cls, tickets: TicketColumns) -> TicketIds:
        requesters = tickets.frame["requester_id"]
        odd = {
            position: (
                id_text((record.data or {}).get("id")),
                id_text((record.data or {}).get("requester_id")),
            )
            for position, record in tickets.odd.items()
        }
        known = requesters.null_count() < requesters.len()
        return cls(tickets.frame["id"], requesters if known else None, odd)

    def add_to(self, tickets: set[str], requesters: dict[str, str]) -> None:
        """Every ticket id, and the requester of each ticket that has one (later tickets win)."""
        if not self.odd:  # every id is a whole number: no nulls
            whole_ids: list[str] = self.ids.cast(pl.String).to_list()
            tickets.update(whole_ids)
            if self.requesters is not None:
                known = self.requesters.is_not_null()
                pairs = zip(
                    self.ids.filter(known).cast(pl.String).to_list(),
                    self.requesters.filter(known).cast(pl.String).to_list(),
                    strict=True,
                )
                requesters.update(pairs)
            return
        ids: list[str | None] = self.ids.cast(pl.String).to_list()
        if self.requesters is None:
            requester_ids: list[str | None] = [None] * len(ids)
        else:
            requester_ids = self.requesters.cast(pl.String).to_list()
        for position, (ticket_id, requester) in self.odd.items():
            ids[position], requester_ids[position] = ticket_id, requester
        tickets.update(ticket_id for ticket_id in ids if ticket_id is not None)
        requesters.update(
            (ticket_id, requester)
            for ticket_id, requester in zip(ids, requester_ids, strict=True)
            if ticket_id is not None and requester
        )


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


def file_stamp(path: Path) -> tuple[int, int]:
    """(mtime_ns, size): a file that changed has another one."""
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_size


def decode_zendesk_file(path: Path, *, custom_fields: bool = True) -> DecodedFile:
    """One file's records by stream; its tickets as :class:`TicketColumns` that still hold their records
    (with their custom field lists when ``custom_fields``). A file that is not JSON at all raises
    :class:`connectors.files.UnreadableFileError`."""
    # The decoded tickets live until their columns are built: collections started meanwhile would move
    # them to older generations, whose passes also walk the folder's ever larger sets of ids.
    with cyclic_gc_paused():
        records = read_zendesk_records(path)
        return DecodedFile(
            records.stamp,
            records.streams,
            ticket_columns(records.tickets, custom_fields),
            records.undecodable,
        )


@dataclass
class FileRecords:
    """One file's records by stream, its tickets not yet in columns."""

    stamp: tuple[int, int]
    streams: dict[str, list[JsonRecord]]
    tickets: TicketSource
    undecodable: list[JsonRecord]


def read_zendesk_records(path: Path) -> FileRecords:
    """One file's records by stream (see :func:`decode_zendesk_file`)."""
    records = FileRecords(file_stamp(path), defaultdict(list), TicketSource(), [])
    for chunk in read_json_chunks(path, PAGE_LIST_KEYS, whole_lists=(TICKETS,)):
        if isinstance(chunk, JsonList):
            records.tickets.add_list(chunk, records.undecodable)
        elif chunk.data is None:
            records.undecodable.append(chunk)
        elif (stream := _stream_of(chunk)) == TICKETS:
            records.tickets.add_record(chunk)
        else:
            records.streams[stream].append(chunk)
    return records


def collect_zendesk_context(
    paths: Iterable[Path],
    keep_decoded_bytes: int = KEEP_DECODED_BYTES,
    *,
    options: ZendeskOptions | None = None,
) -> ZendeskContext:
    """Names, metrics, ratings and requesters from every JSON file of an export folder (files that cannot be
    read are left out here).

    Plain pages of tickets are decoded only when some file has a stream that reads ticket ids or
    requesters. What was decoded, up to ``keep_decoded_bytes`` (estimated) in all, stays in the context so
    that parsing it in the same run does not decode it again (see :meth:`ZendeskContext.take_decoded`);
    given the connector's ``options``, tickets' custom fields are read only when they are mapped.
    """
    context = ZendeskContext()
    custom_fields = options is None or reads_custom_fields(options)
    kept = 0

    def decoded_and_kept(path: Path) -> DecodedFile | None:
        nonlocal kept
        try:
            with cyclic_gc_paused():  # the decoded tickets are freed before a collection could walk them
                decoded = decode_zendesk_file(path, custom_fields=custom_fields)
                decoded.tickets.source = None  # the columns hold what the parse needs
        except UnreadableFileError:
            return None  # reported with its reason when the file itself is parsed
        size = decoded.estimated_bytes()
        if kept + size <= keep_decoded_bytes:
            kept += size
            context.decoded[path.resolve()] = decoded
        return decoded

    files = [path for path in paths if path.suffix.lower() in JSON_SUFFIXES]
    tickets_in_order: list[Path | TicketColumns] = []  # a plain page's tickets are read if needed
    tickets_read = False
    for path, informs in zip(files, files_informing_context(files), strict=True):
        if not informs:
            tickets_in_order.append(path)
        elif decoded := decoded_and_kept(path):
            context.add_streams(decoded.streams)
            tickets_read = tickets_read or any(decoded.streams.get(s) for s in _READING_TICKETS)
            tickets_in_order.append(decoded.tickets)
    for tickets in tickets_in_order:
        if isinstance(tickets, Path):
            if not tickets_read or not (decoded := decoded_and_kept(tickets)):
                context.plain_files.add(tickets)
                continue
            if tickets.resolve() not in context.decoded:
                context.plain_files.add(tickets)
            tickets = decoded.tickets
        context.add_tickets(tickets)
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
