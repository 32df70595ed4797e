"""Zendesk exports: incremental ticket export pages with sideloads, ticket audit and satisfaction rating
pages, and Airbyte JSONL envelopes.

Streams used: tickets, ticket_metrics (also as the ``metric_sets`` sideload: first reply, solved time,
reopens), ticket_audits (status history, assignments, comments), ticket_comments, satisfaction_ratings, and
groups / organizations / users for readable names. schedules and sla_policies are returned beside the batch
for the SLA engine. Names, metrics, ratings and requesters are joined across every file of an export folder
(:func:`connectors.zendesk_context.collect_zendesk_context`), so a ratings page or an audits page needs no copy of the tickets.
Zendesk rates satisfaction good/bad only; NPS and CES come from the ticket custom fields a survey integration
writes (``nps_field`` / ``ces_field``).

A file's tickets are mapped column-wise (:mod:`connectors.zendesk_frame`); :func:`map_ticket` maps one
ticket at a time, for the API pages and for the tickets the columns leave to it (odd shapes, rejections),
with the same rules (:mod:`connectors.zendesk_fields`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl

from connectors.base import SOURCE_ROW, Batch
from connectors.files import UnreadableFileError, cyclic_gc_paused
from connectors.parsing import (
    BatchBuilder,
    JsonRecord,
    ParsedFile,
    RecordError,
    columns_frame,
    event_frame_schema,
    id_text,
    interaction_frame_schema,
    text_or_none,
    to_utc,
)
from connectors.zendesk_columns import TicketColumns
from connectors.zendesk_context import DecodedFile, ZendeskContext, ZendeskNames, decode_zendesk_file
from connectors.zendesk_fields import (
    CHANNEL_MAP,
    PRIORITY_MAP,
    STATUS_MAP,
    ZendeskOptions,
    channel_of,
    csat_from_score,
    custom_field_value,
    is_deleted,
    priority_of,
    reads_custom_fields,
    survey_answer,
    ticket_custom_fields,
    ticket_status,
)
from connectors.zendesk_frame import map_ticket_columns
from servicelens.model import EventType, Status

__all__ = [
    "CHANNEL_MAP",
    "PRIORITY_MAP",
    "STATUS_MAP",
    "add_audit_events",
    "csat_from_score",
    "map_ticket",
    "map_ticket_records",
    "parse_zendesk_file",
]


def parse_zendesk_file(
    path: Path, options: ZendeskOptions, context: ZendeskContext | None = None
) -> ParsedFile:
    """Map one Zendesk export file (JSON page or JSONL) onto canonical interactions and events.

    ``context`` holds what the other files of the folder know (names, metrics, ratings); without it only
    this file is used.
    """
    # The decoded records are freed before the cyclic collector runs again: a collection started while
    # they live walks every one of them (they hold no reference cycles).
    with cyclic_gc_paused():
        return _parse_zendesk_file(path, options, context)


def parse_mapped_zendesk_file(
    path: Path, options: ZendeskOptions, context: ZendeskContext, decoded: DecodedFile, mapped: MappedTickets
) -> ParsedFile:
    """What :func:`parse_zendesk_file` gives for a file whose records were decoded and whose tickets were
    mapped already (with other files, by :mod:`connectors.zendesk_pages`), with the same ``context``."""
    with cyclic_gc_paused():
        return _parsed(path, options, context, decoded, mapped)


@dataclass
class MappedTickets:
    """A file's tickets mapped column-wise (None when it has none), and the records of those left to the
    per-ticket mapping, in file order."""

    frame: pl.DataFrame | None
    left: list[JsonRecord]


def _parse_zendesk_file(path: Path, options: ZendeskOptions, context: ZendeskContext | None) -> ParsedFile:
    custom_fields = reads_custom_fields(options)
    decoded = context.take_decoded(path) if context is not None else None
    if decoded is None or (custom_fields and not decoded.tickets.custom_fields_read):
        decoded = decode_zendesk_file(path, custom_fields=custom_fields)
    return _parsed(path, options, context or ZendeskContext(), decoded, None)


def _parsed(
    path: Path,
    options: ZendeskOptions,
    context: ZendeskContext,
    decoded: DecodedFile,
    mapped: MappedTickets | None,
) -> ParsedFile:
    builder = BatchBuilder(options.source_name, path.name)
    decoded.reject_undecodable(builder)
    context.add_decoded(decoded)  # this file's records win over older copies from other files
    streams = decoded.streams
    names = context.names
    if mapped is None:
        frame = _map_tickets(path, decoded.stamp, decoded.tickets, options, context, builder)
    else:
        frame = mapped.frame
        map_ticket_records(mapped.left, options, context, builder)
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
        batch=_batch(builder, frame),
        schedules=[r.data for r in streams.pop("schedules", []) if r.data],
        sla_policies=[r.data for r in streams.pop("sla_policies", []) if r.data],
        other_streams={
            name: len(records) for name, records in streams.items() if name not in ZendeskNames.STREAMS
        },
    )


def _map_tickets(
    path: Path,
    stamp: tuple[int, int],
    tickets: TicketColumns,
    options: ZendeskOptions,
    context: ZendeskContext,
    builder: BatchBuilder,
) -> pl.DataFrame | None:
    """Tickets mapped column-wise; those left to :func:`map_ticket` go to ``builder`` (rows or rejections)."""
    if tickets.height == 0:
        return None
    mapped, left = map_ticket_columns(tickets, options, context, path.name)
    if left:
        records = tickets.records(left)
        if records is None:  # kept as columns only: their records are read again
            again = decode_zendesk_file(path, custom_fields=False)
            if again.stamp != stamp or again.tickets.height != tickets.height:
                raise UnreadableFileError(path, "changed while being read; the next run reads it again")
            records = again.tickets.records(left)
            assert records is not None
        map_ticket_records(records, options, context, builder)
    return mapped


def map_ticket_records(
    records: Iterable[JsonRecord], options: ZendeskOptions, context: ZendeskContext, builder: BatchBuilder
) -> None:
    """Tickets mapped one by one with :func:`map_ticket`: rows, or rejections naming the field."""
    for record in records:
        assert record.data is not None
        try:
            values = map_ticket(record.data, options, context.names, context.metrics, context.ratings)
        except RecordError as exc:
            builder.reject(record.row, exc.field, exc.reason, record.raw)
            continue
        builder.add_interaction(record.row, values)


def _batch(builder: BatchBuilder, mapped: pl.DataFrame | None) -> Batch:
    """What ``builder.build()`` gives, with the tickets mapped column-wise among the builder's rows in
    file order."""
    interactions = _frame(builder.interactions, interaction_frame_schema())
    if mapped is not None:
        interactions = (
            mapped if interactions.is_empty() else pl.concat([mapped, interactions]).sort(SOURCE_ROW)
        )
    return Batch(
        builder.source, interactions, _frame(builder.events, event_frame_schema()), list(builder.rejections)
    )


def _frame(columns: dict[str, list[Any]], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """The builder's rows as a frame. Frames of no rows are copied from one made from the schema: making
    them costs about as much as mapping a page, and building them from empty lists loads pandas through
    arrow."""
    if columns[SOURCE_ROW]:
        return columns_frame(columns, schema)
    return _no_rows(tuple(schema.items())).clear()


@cache
def _no_rows(schema: tuple[tuple[str, pl.DataType], ...]) -> pl.DataFrame:
    return pl.DataFrame(schema=dict(schema))


def _is_answered(record: JsonRecord) -> bool:
    return str((record.data or {}).get("score", "")).lower() in {"good", "bad"}


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
    status = ticket_status(ticket.get("status"), "status", options)
    if is_deleted(ticket.get("status", "")):
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
        "channel": channel_of(via.get("channel"), options),
        "location": _location(ticket, options, names),
        "team": names.name("groups", ticket.get("group_id")),
        "agent": names.name("users", ticket.get("assignee_id")),
        "customer": names.customer(ticket.get("requester_id")),
        "priority": priority_of(ticket.get("priority"), options),
        "status": status,
        "subject": text_or_none(ticket.get("subject")),
        "created_at": created_at,
        "first_response_at": _after_minutes(created_at, metric.get("reply_time_in_minutes")),
        "resolved_at": to_utc(metric.get("solved_at"), "ticket_metrics.solved_at"),
        "closed_at": updated_at if status == Status.CLOSED else None,  # closed tickets never change again
        "updated_at": updated_at,
        "reopens": metric.get("reopens"),
        "csat": csat_from_score(rating.get("score"), options) if isinstance(rating, dict) else None,
        "nps": survey_answer(ticket_custom_fields(ticket), options.nps_field, "nps"),
        "ces": survey_answer(ticket_custom_fields(ticket), options.ces_field, "ces"),
        "tags": tags,
    }


def _location(ticket: dict[str, Any], options: ZendeskOptions, names: ZendeskNames) -> str | None:
    if options.location_field:
        return text_or_none(custom_field_value(ticket_custom_fields(ticket), options.location_field))
    return names.name("organizations", ticket.get("organization_id"))


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
                status = ticket_status(event.get("value"), f"events[{index}].value", options)
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
