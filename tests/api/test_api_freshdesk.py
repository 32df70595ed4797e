"""Freshdesk tickets, conversations and reference lists over a real local HTTP server."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from connectors.api import api_batches
from connectors.config import FreshdeskApiConfig
from connectors.http import RetryPolicy
from connectors.run import run_batches
from storage import runs
from storage.db import make_engine, upgrade
from storage.repo import read_events, read_interactions
from tests.api.conftest import client_for
from tests.api.replay import ReplayServer, Reply

TICKETS = "/api/v2/tickets"


def freshdesk_config(token_env: str, page_size: int = 2, lookback: int = 60) -> FreshdeskApiConfig:
    return FreshdeskApiConfig(
        kind="freshdesk_api",
        name="freshdesk-live",
        base_url="https://acme.freshdesk.com",
        token_env=token_env,
        page_size=page_size,
        start_at="2015-01-01T00:00:00Z",
        lookback_minutes=lookback,
    )


def test_pages_in_update_order_each_bookmarked_with_the_newest_update(
    freshdesk_server: ReplayServer, token_env: str, now: datetime, fast_retry: RetryPolicy
) -> None:
    with client_for(freshdesk_server) as client:
        batches = list(
            api_batches(freshdesk_config(token_env), None, now=now, client=client, retry=fast_retry)
        )

    assert [b.interactions.height for b in batches] == [2, 2, 2, 1]
    pages = freshdesk_server.requests_to(TICKETS)
    assert [p.query["page"] for p in pages] == ["1", "2", "3", "4"]
    assert all(
        p.query["order_by"] == "updated_at"
        and p.query["order_type"] == "asc"
        and p.query["include"] == "stats,requester"
        for p in pages
    )
    assert pages[0].query["updated_since"] == "2015-01-01T00:00:00Z"
    bookmarks = [b.bookmark for b in batches]
    assert bookmarks == sorted(bookmarks) and len(set(bookmarks)) == 4
    for batch in batches:
        assert batch.bookmark == max(batch.interactions["updated_at"]).strftime("%Y-%m-%dT%H:%M:%SZ")
    every = [row for b in batches for row in b.interactions.iter_rows(named=True)]
    assert {r["external_id"] for r in every} == {"1", "18", "19", "20", "21", "22", "23"}
    first = next(r for r in every if r["external_id"] == "1")
    assert (first["status"], first["priority"], first["channel"]) == ("open", "low", "web")


def test_conversations_become_events_and_reference_lists_give_names(
    freshdesk_server: ReplayServer, token_env: str, now: datetime, fast_retry: RetryPolicy
) -> None:
    with client_for(freshdesk_server) as client:
        batches = list(
            api_batches(freshdesk_config(token_env, 100), None, now=now, client=client, retry=fast_retry)
        )
    (batch,) = batches
    assert {r.path for r in freshdesk_server.requests} >= {
        "/api/v2/ticket_fields",
        "/api/v2/groups",
        "/api/v2/agents",
    }
    conversation_calls = [r for r in freshdesk_server.requests if r.path.endswith("/conversations")]
    assert len(conversation_calls) == 7
    events = batch.events.filter(batch.events["type"] != "status_change")  # conversations only
    assert batch.events.filter(batch.events["type"] == "status_change").height > 0  # the partial history
    kinds = dict(zip(events["body"].to_list(), events["type"].to_list(), strict=True))
    assert kinds["This is a private note"] == "internal_note"
    assert kinds["This is a reply"] == "agent_reply"
    assert "customer_message" in kinds.values()
    ticket_1 = events.filter(events["interaction_id"] == "freshdesk-live:1")
    # The ticket's description is the customer's first message; agent 1 is named by /api/v2/agents.
    assert ticket_1["author"].to_list() == ["dummyname@example.com", "Support", "Support"]


def test_a_stored_bookmark_is_resumed_with_the_lookback(
    freshdesk_server: ReplayServer, token_env: str, now: datetime, fast_retry: RetryPolicy, tmp_path: Path
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'fd.sqlite'}")
    upgrade(engine)
    config = freshdesk_config(token_env, page_size=2, lookback=30)
    freshdesk_server.inject(TICKETS, *[Reply(503)] * 3, when=lambda q: q["page"] == "3")
    with client_for(freshdesk_server) as client, pytest.raises(Exception, match="failed 3 times"):
        run_batches(
            engine, config.name, api_batches(config, None, now=now, client=client, retry=fast_retry), now=now
        )
    assert read_interactions(engine).height == 4
    bookmark = runs.get_bookmark(engine, config.name)
    assert bookmark == "2022-11-16T15:59:28Z"  # newest update of pages 1 and 2

    freshdesk_server.requests.clear()
    with client_for(freshdesk_server) as client:
        report = run_batches(
            engine,
            config.name,
            api_batches(config, bookmark, now=now, client=client, retry=fast_retry),
            now=now,
        )
    assert report.status == "succeeded"
    assert freshdesk_server.requests_to(TICKETS)[0].query["updated_since"] == "2022-11-16T15:29:28Z"
    assert read_interactions(engine).height == 7
    messages = read_events(engine).filter(pl.col("type") != "status_change")
    assert messages.height == 7 + 6  # each ticket's description, and the six conversations
    assert runs.get_bookmark(engine, config.name) == "2022-11-22T15:02:37Z"


def test_a_list_the_token_may_not_read_is_skipped(
    freshdesk_server: ReplayServer, token_env: str, now: datetime, fast_retry: RetryPolicy
) -> None:
    freshdesk_server.inject("/api/v2/agents", Reply(403, {"message": "You are not authorized"}))
    with client_for(freshdesk_server) as client:
        (batch,) = list(
            api_batches(freshdesk_config(token_env, 100), None, now=now, client=client, retry=fast_retry)
        )
    ticket_1 = batch.events.filter(
        (batch.events["interaction_id"] == "freshdesk-live:1") & (batch.events["type"] != "status_change")
    )
    assert ticket_1["author"].to_list() == [
        "dummyname@example.com",
        "1",
        "1",
    ]  # ids instead of names, but the pull goes on
