"""Freshdesk over HTTP: tickets updated since the bookmark, with stats, requester and conversations.

Pages of ``/api/v2/tickets?updated_since=..&order_by=updated_at&order_type=asc&include=stats,requester``
become one batch each, with the conversations of every ticket of the page
(``/api/v2/tickets/{id}/conversations``). ``ticket_fields``, ``groups`` and ``agents`` are read once per run
to decode custom statuses and show names. The bookmark is the newest ``updated_at`` committed so far; the
next run asks again from ``lookback_minutes`` before it (the loads are upserts, so re-reading is harmless).

When the connector names survey questions (``nps_question`` / ``ces_question``), the satisfaction ratings
created since the pull window's start (``/api/v2/surveys/satisfaction_ratings?created_since=..``) are read
once per run as well and give the tickets of the window their CSAT, NPS and CES.

Freshdesk serves at most 300 pages for one query; past that the pull restarts its query from the newest
``updated_at`` it has seen. The records are mapped by the functions ``connectors.freshdesk`` uses for
exported files.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.base import Batch
from connectors.config import FreshdeskApiConfig
from connectors.freshdesk import add_conversation, map_ticket, ticket_events
from connectors.freshdesk_lookups import FreshdeskLookups
from connectors.http import ApiError, ApiSession
from connectors.parsing import BatchBuilder, JsonRecord, RecordError, id_text, to_utc
from connectors.zendesk_api import first_pull_start

TICKETS_PATH = "/api/v2/tickets"
RATINGS_PATH = "/api/v2/surveys/satisfaction_ratings"
INCLUDE = "stats,requester"
MAX_PER_PAGE = 100  # Freshdesk refuses larger pages
MAX_PAGE = 300  # Freshdesk answers no page beyond this for one query
_REFERENCE_LISTS = {
    "ticket_fields": "/api/v2/ticket_fields",
    "groups": "/api/v2/groups",
    "agents": "/api/v2/agents",
}


def format_bookmark(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_bookmark(value: str, connector: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(
            f"connector {connector!r}: stored bookmark {value!r} is not an ISO timestamp; "
            "reset it to pull again from start_at"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def freshdesk_api_batches(
    config: FreshdeskApiConfig,
    session: ApiSession,
    bookmark: str | None,
    now: datetime,
    *,
    with_conversations: bool = True,
) -> Iterator[Batch]:
    """One batch per tickets page; each carries the newest ``updated_at`` it and the pages before hold."""
    per_page = min(config.page_size, MAX_PER_PAGE)
    if bookmark:
        high_water: datetime | None = parse_bookmark(bookmark, config.name)
        assert high_water is not None
        since = high_water - timedelta(minutes=config.lookback_minutes)
    else:
        high_water = None
        since = datetime.fromtimestamp(first_pull_start(config.start_at, now, config.name), UTC)
    lookups = reference_lookups(session)
    if config.asks_survey_questions:
        read_ratings(session, since, lookups)
    page = 1
    page_number = 0
    while True:
        page_number += 1
        params: dict[str, str | int] = {
            "updated_since": format_bookmark(since),
            "order_by": "updated_at",
            "order_type": "asc",
            "per_page": per_page,
            "page": page,
            "include": INCLUDE,
        }
        tickets = session.get_json(TICKETS_PATH, params)
        if not isinstance(tickets, list):
            raise ApiError(f"GET {TICKETS_PATH} (page {page}) did not return a list of tickets")
        conversations = _conversations(session, tickets, per_page) if with_conversations else {}
        label = f"{TICKETS_PATH} page {page_number}"
        batch = freshdesk_page_batch(tickets, conversations, config, lookups, label)
        newest = _newest_update(tickets)
        if newest is not None and (high_water is None or newest > high_water):
            high_water = newest
        batch.bookmark = format_bookmark(high_water) if high_water else bookmark
        yield batch
        if len(tickets) < per_page:
            return
        page += 1
        if page > MAX_PAGE:
            if high_water is None or high_water <= since:
                raise ApiError(
                    f"more than {MAX_PAGE * per_page} tickets share the update time {format_bookmark(since)}; "
                    "Freshdesk cannot page past them"
                )
            since, page = high_water, 1


def reference_lookups(session: ApiSession) -> FreshdeskLookups:
    """Status labels, group and agent names; a list the token may not read is skipped with a warning."""
    lookups = FreshdeskLookups()
    for stream, path in _REFERENCE_LISTS.items():
        page = 1
        while True:
            params: dict[str, str | int] = {"per_page": MAX_PER_PAGE, "page": page}
            try:
                items = session.get_json(path, None if stream == "ticket_fields" else params, missing_ok=True)
            except ApiError as exc:
                if exc.status != 403:
                    raise
                items = None
            if not isinstance(items, list):
                break
            for item in items:
                if isinstance(item, dict):
                    lookups.add(stream, item)
            if stream == "ticket_fields" or len(items) < MAX_PER_PAGE:
                break
            page += 1
    return lookups


def read_ratings(session: ApiSession, since: datetime, lookups: FreshdeskLookups) -> None:
    """Every satisfaction rating created since ``since`` into ``lookups`` (the newest per ticket wins)."""
    page = 1
    while True:
        params: dict[str, str | int] = {
            "created_since": format_bookmark(since),
            "per_page": MAX_PER_PAGE,
            "page": page,
        }
        items = session.get_json(RATINGS_PATH, params)
        if not isinstance(items, list):
            raise ApiError(f"GET {RATINGS_PATH} (page {page}) did not return a list of ratings")
        for item in items:
            if isinstance(item, dict):
                lookups.add("satisfaction_ratings", item)
        if len(items) < MAX_PER_PAGE:
            return
        page += 1


def _conversations(session: ApiSession, tickets: list[Any], per_page: int) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for ticket in tickets:
        ticket_id = id_text(ticket.get("id")) if isinstance(ticket, dict) else None
        if ticket_id is None:
            continue
        path = f"{TICKETS_PATH}/{ticket_id}/conversations"
        items: list[dict[str, Any]] = []
        page = 1
        while True:
            chunk = session.get_json(path, {"per_page": MAX_PER_PAGE, "page": page}, missing_ok=True)
            if chunk is None:
                break
            if not isinstance(chunk, list):
                raise ApiError(f"GET {path} did not return a list of conversations")
            items.extend(c for c in chunk if isinstance(c, dict))
            if len(chunk) < MAX_PER_PAGE:
                break
            page += 1
        found[ticket_id] = items
    return found


def _newest_update(tickets: list[Any]) -> datetime | None:
    newest: datetime | None = None
    for ticket in tickets:
        if not isinstance(ticket, dict):
            continue
        try:
            value = to_utc(ticket.get("updated_at"), "updated_at")
        except RecordError:
            continue  # the ticket itself is quarantined with this reason
        if value is not None and (newest is None or value > newest):
            newest = value
    return newest


def freshdesk_page_batch(
    tickets: list[Any],
    conversations: dict[str, list[dict[str, Any]]],
    options: FreshdeskApiConfig,
    lookups: FreshdeskLookups,
    label: str,
) -> Batch:
    """Map one tickets page and its conversations; conversation events carry their ticket's row."""
    builder = BatchBuilder(options.source_name, label)
    rows: dict[str, int] = {}
    for number, ticket in enumerate(tickets, start=1):
        raw = json.dumps(ticket, default=str, ensure_ascii=False)[:2000]
        if not isinstance(ticket, dict):
            builder.reject(number, None, "ticket is not an object", raw)
            continue
        try:
            values = map_ticket(ticket, options, lookups, lookups.ratings)
            events = ticket_events(ticket, values)  # the partial status history `stats` allows
        except RecordError as exc:
            builder.reject(number, exc.field, exc.reason, raw)
            continue
        rows[values["external_id"]] = number
        builder.add_interaction(number, values)
        for event in events:
            builder.add_event(number, values["external_id"], event)
    for ticket_id, items in conversations.items():
        row = rows.get(ticket_id)
        if row is None:
            continue
        for item in items:
            record = JsonRecord(
                row, "conversations", item, json.dumps(item, default=str, ensure_ascii=False)[:2000]
            )
            try:
                add_conversation(builder, record, lookups)
            except RecordError as exc:
                builder.reject(row, exc.field, exc.reason, record.raw)
    return builder.build()
