"""Zendesk incremental export over a real local HTTP server replaying the recorded pages."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from connectors.api import api_batches
from connectors.config import ZendeskApiConfig
from connectors.zendesk_api import first_pull_start, zendesk_page_batch
from tests.api.conftest import ZENDESK_EMAIL, ZENDESK_TICKETS, client_for
from tests.api.replay import ReplayServer


def zendesk_config(token_env: str, page_size: int = 20) -> ZendeskApiConfig:
    return ZendeskApiConfig(
        kind="zendesk_api",
        name="zendesk-live",
        base_url="https://acme.zendesk.com",
        email=ZENDESK_EMAIL,
        token_env=token_env,
        page_size=page_size,
        start_at="2023-01-01",
    )


def test_every_page_is_one_batch_bookmarked_with_its_cursor(
    zendesk_server: ReplayServer, token_env: str, now: datetime, fast_retry
) -> None:
    config = zendesk_config(token_env, page_size=20)
    with client_for(zendesk_server) as client:
        batches = list(api_batches(config, None, now=now, client=client, retry=fast_retry))

    assert [b.interactions.height + len(b.rejections) for b in batches] == [20, 20, 20, 20, 7]
    ticket_requests = zendesk_server.requests_to(ZENDESK_TICKETS)
    assert ticket_requests[0].query["start_time"] == str(first_pull_start("2023-01-01", now, "z"))
    assert ticket_requests[0].query["include"] == "metric_sets,users,groups,organizations"
    # Each next page is asked for with the cursor the previous batch stored as its bookmark.
    assert [r.query.get("cursor") for r in ticket_requests[1:]] == [b.bookmark for b in batches[:-1]]
    assert len({b.bookmark for b in batches}) == 5
    ids = [i for b in batches for i in b.interactions["external_id"].to_list()]
    assert len(ids) == len(set(ids)) == 87
    deleted = [b.interactions.filter(b.interactions["tags"].list.contains("deleted")) for b in batches]
    assert sum(d.height for d in deleted) > 0
    assert all(s == "closed" for d in deleted for s in d["status"].to_list())


def test_audits_of_each_ticket_become_events(
    zendesk_server: ReplayServer, token_env: str, now: datetime, fast_retry
) -> None:
    config = zendesk_config(token_env, page_size=100)
    with client_for(zendesk_server) as client:
        (batch,) = list(api_batches(config, None, now=now, client=client, retry=fast_retry))
    audit_paths = {r.path for r in zendesk_server.requests if r.path.endswith("/audits.json")}
    live = batch.interactions.filter(~batch.interactions["tags"].list.contains("deleted"))
    assert len(audit_paths) == live.height  # deleted tickets have no audits to ask for
    kinds = set(batch.events["type"].to_list())
    assert {"status_change", "agent_reply"} <= kinds
    assert set(batch.events["interaction_id"].unique().to_list()) <= set(batch.interactions["interaction_id"])


def test_audits_follow_their_cursor_pages(
    shared_fixtures: Path, token_env: str, now: datetime, fast_retry
) -> None:
    from tests.api.conftest import TOKEN, ZendeskReplay, basic

    replay = ZendeskReplay(shared_fixtures)
    busiest = max(replay.audits, key=lambda k: len(replay.audits[k]))

    def route(path, query):
        if path.endswith("/audits.json"):
            query = {**query, "page[size]": "2"}  # the server decides the page size, as Zendesk may
        return replay.route(path, query)

    server = ReplayServer(route, expected_authorization=basic(f"{ZENDESK_EMAIL}/token", TOKEN)).start()
    try:
        with client_for(server) as client:
            batches = list(
                api_batches(zendesk_config(token_env, 100), None, now=now, client=client, retry=fast_retry)
            )
        calls = server.requests_to(f"/api/v2/tickets/{busiest}/audits.json")
    finally:
        server.stop()
    assert len(calls) == (len(replay.audits[busiest]) + 1) // 2
    assert all("page[after]" in c.query for c in calls[1:])
    events = batches[0].events.filter(batches[0].events["interaction_id"] == f"zendesk-live:{busiest}")
    assert events.height >= len(replay.audits[busiest])  # every audit of it holds at least one event


def test_sideloaded_metrics_and_names_fill_the_ticket(shared_fixtures: Path, token_env: str) -> None:
    """A page with metric_sets, groups and organizations sideloaded, from the real Airbyte records.

    The sample's metrics belong to tickets it does not hold, so one metric set and one group are attached
    to ticket 146 by id, as the sideload of a real page would be.
    """
    streams: dict[str, list[dict]] = {}
    lines = (
        (shared_fixtures / "zendesk" / "airbyte_d3v_expected_records_subset.jsonl").read_text().splitlines()
    )
    for line in lines:
        record = json.loads(line)
        streams.setdefault(record["stream"], []).append(record["data"])
    group = streams["groups"][0]
    organization = streams["organizations"][0]
    tickets = [
        {**t, "group_id": group["id"], "organization_id": organization["id"]} if t["id"] == 146 else t
        for t in streams["tickets"]
    ]
    metric = {**next(m for m in streams["ticket_metrics"] if m["reopens"] == 1), "ticket_id": 146}
    payload = {
        "tickets": tickets,
        "metric_sets": [metric],
        "groups": streams["groups"],
        "organizations": streams["organizations"],
        "end_of_stream": True,
    }
    batch = zendesk_page_batch(payload, {}, zendesk_config(token_env), "page 1")
    row = batch.interactions.filter(batch.interactions["external_id"] == "146").row(0, named=True)
    assert row["reopens"] == 1
    assert row["team"] == group["name"]
    assert row["location"] == organization["name"]
    minutes = metric["reply_time_in_minutes"]["calendar"]
    if minutes is not None:
        assert (row["first_response_at"] - row["created_at"]).total_seconds() == minutes * 60
    others = batch.interactions.filter(batch.interactions["external_id"] != "146")
    assert others["reopens"].null_count() == others.height  # no metric set: nothing invented


def test_a_stored_cursor_is_resumed_without_start_time(
    zendesk_server: ReplayServer, token_env: str, now: datetime, fast_retry
) -> None:
    config = zendesk_config(token_env, page_size=50)
    with client_for(zendesk_server) as client:
        first = list(api_batches(config, None, now=now, client=client, retry=fast_retry))
        zendesk_server.requests.clear()
        again = list(api_batches(config, first[0].bookmark, now=now, client=client, retry=fast_retry))
    assert "start_time" not in zendesk_server.requests_to(ZENDESK_TICKETS)[0].query
    assert [b.interactions.height + len(b.rejections) for b in again] == [37]


@pytest.mark.parametrize("start_at", ["yesterday", "31/01/2024"])
def test_an_unreadable_start_at_names_the_connector(start_at: str, now: datetime) -> None:
    with pytest.raises(ValueError, match=r"'zendesk-live'.*start_at"):
        first_pull_start(start_at, now, "zendesk-live")
