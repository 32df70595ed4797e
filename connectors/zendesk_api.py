"""Zendesk over HTTP: the cursor-based incremental ticket export, with metrics, names and audits.

One page of ``/api/v2/incremental/tickets/cursor.json`` becomes one batch. Ticket metrics, users, groups
and organizations come sideloaded with the page (``include=``); each ticket's audits (status history,
assignments, comments) are read from ``/api/v2/tickets/{id}/audits.json``. Satisfaction comes from the
ticket's own ``satisfaction_rating``. The bookmark is the page's ``after_cursor``: the next run continues
exactly after the last committed page, so ``lookback_minutes`` is not needed here.

The records have the shapes of the exports, so they are mapped by the same functions as
``connectors.zendesk`` uses for files.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.base import Batch
from connectors.config import ZendeskApiConfig
from connectors.http import ApiError, ApiSession
from connectors.parsing import BatchBuilder, JsonRecord, RecordError, id_text
from connectors.zendesk import add_audit_events, map_ticket
from connectors.zendesk_context import ZendeskNames

TICKETS_PATH = "/api/v2/incremental/tickets/cursor.json"
SIDELOADS = "metric_sets,users,groups,organizations"
AUDITS_PAGE_SIZE = 100
FIRST_PULL_DAYS = 30
# Zendesk refuses a start_time within the last minute.
_NEWEST_START = timedelta(minutes=1)
_SIDELOAD_STREAMS = {"metric_sets": "ticket_metrics", "users": "users", "groups": "groups"}


def first_pull_start(start_at: str | None, now: datetime, connector: str) -> int:
    """Epoch seconds of the first pull: ``start_at`` (ISO date or time, UTC when naive) or 30 days ago."""
    if start_at is None:
        start = now - timedelta(days=FIRST_PULL_DAYS)
    else:
        try:
            start = datetime.fromisoformat(start_at.strip())
        except ValueError:
            raise ValueError(
                f"connector {connector!r}: start_at {start_at!r} is not an ISO date (e.g. 2024-01-31)"
            ) from None
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
    return int(min(start, now - _NEWEST_START).timestamp())


def zendesk_api_batches(
    config: ZendeskApiConfig,
    session: ApiSession,
    bookmark: str | None,
    now: datetime,
    *,
    with_audits: bool = True,
) -> Iterator[Batch]:
    """One batch per export page; each carries the cursor to store once it is committed."""
    params: dict[str, str | int] = {"per_page": config.page_size, "include": SIDELOADS}
    if bookmark:
        params["cursor"] = bookmark
    else:
        params["start_time"] = first_pull_start(config.start_at, now, config.name)
    cursor = bookmark
    page_number = 0
    while True:
        page_number += 1
        payload = session.get_json(TICKETS_PATH, params)
        if not isinstance(payload, dict) or not isinstance(payload.get("tickets"), list):
            raise ApiError(f"GET {TICKETS_PATH} (page {page_number}) did not return a `tickets` list")
        audits = _ticket_audits(session, payload["tickets"]) if with_audits else {}
        label = f"{TICKETS_PATH} page {page_number}"
        batch = zendesk_page_batch(payload, audits, config, label)
        next_cursor = payload.get("after_cursor")
        cursor = str(next_cursor) if next_cursor else cursor
        batch.bookmark = cursor
        yield batch
        if payload.get("end_of_stream") or not next_cursor:
            return
        # Never follow after_url: it is an absolute URL, and the token must only go to base_url.
        params = {"per_page": config.page_size, "include": SIDELOADS, "cursor": str(next_cursor)}


def _ticket_audits(session: ApiSession, tickets: list[Any]) -> dict[str, list[dict[str, Any]]]:
    """Every audit of each ticket of the page; deleted tickets have none to read."""
    audits: dict[str, list[dict[str, Any]]] = {}
    for ticket in tickets:
        if not isinstance(ticket, dict) or str(ticket.get("status", "")).lower() == "deleted":
            continue
        ticket_id = id_text(ticket.get("id"))
        if ticket_id is not None:
            audits[ticket_id] = list(_audit_pages(session, ticket_id))
    return audits


def _audit_pages(session: ApiSession, ticket_id: str) -> Iterator[dict[str, Any]]:
    path = f"/api/v2/tickets/{ticket_id}/audits.json"
    params: dict[str, str | int] = {"page[size]": AUDITS_PAGE_SIZE}
    while True:
        payload = session.get_json(path, params, missing_ok=True)
        if payload is None:
            return
        if not isinstance(payload, dict) or not isinstance(payload.get("audits"), list):
            raise ApiError(f"GET {path} did not return an `audits` list")
        yield from (audit for audit in payload["audits"] if isinstance(audit, dict))
        meta = payload.get("meta") or {}
        if not meta.get("has_more") or not meta.get("after_cursor"):
            return
        params = {"page[size]": AUDITS_PAGE_SIZE, "page[after]": str(meta["after_cursor"])}


def _records(payload: dict[str, Any], key: str) -> list[JsonRecord]:
    return [
        JsonRecord(number, key, item, json.dumps(item, default=str, ensure_ascii=False)[:2000])
        for number, item in enumerate(payload.get(key) or [], start=1)
        if isinstance(item, dict)
    ]


def zendesk_page_batch(
    payload: dict[str, Any],
    audits: dict[str, list[dict[str, Any]]],
    options: ZendeskApiConfig,
    label: str,
) -> Batch:
    """Map one export page (tickets plus sideloads) and the audits of its tickets onto a batch.

    Rows are numbered by the ticket's place in the page; audit events carry their ticket's row.
    """
    builder = BatchBuilder(options.source_name, label)
    streams = {stream: _records(payload, key) for key, stream in _SIDELOAD_STREAMS.items()}
    streams["organizations"] = _records(payload, "organizations")
    names = ZendeskNames(streams)
    metrics = {id_text((r.data or {}).get("ticket_id")): r for r in streams["ticket_metrics"]}
    no_separate_ratings: dict[str | None, JsonRecord] = {}  # the ticket's satisfaction_rating is used
    requesters: dict[str, str] = {}
    rows: dict[str, int] = {}
    for number, item in enumerate(payload.get("tickets") or [], start=1):
        raw = json.dumps(item, default=str, ensure_ascii=False)[:2000]
        if not isinstance(item, dict):
            builder.reject(number, None, "ticket is not an object", raw)
            continue
        try:
            values = map_ticket(item, options, names, metrics, no_separate_ratings)
        except RecordError as exc:
            builder.reject(number, exc.field, exc.reason, raw)
            continue
        if values is None:
            continue
        rows[values["external_id"]] = number
        requesters[values["external_id"]] = id_text(item.get("requester_id")) or ""
        builder.add_interaction(number, values)
    for ticket_id, ticket_audits in audits.items():
        row = rows.get(ticket_id)
        if row is None:  # its ticket was rejected above; the rejection already explains why
            continue
        for audit in ticket_audits:
            raw = json.dumps(audit, default=str, ensure_ascii=False)[:2000]
            add_audit_events(builder, JsonRecord(row, "audits", audit, raw), options, names, requesters)
    return builder.build()
