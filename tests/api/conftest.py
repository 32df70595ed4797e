"""Replay servers for the real Zendesk and Freshdesk API pages of ../shared/fixtures, split into pages."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.http import RetryPolicy
from tests.api.replay import Query, ReplayServer, Reply

TOKEN = "tok-Sup3rSecret-4f9a1c"
ZENDESK_EMAIL = "ops@acme.example"
ZENDESK_TICKETS = "/api/v2/incremental/tickets/cursor.json"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _cursor(offset: int) -> str:
    return base64.b64encode(json.dumps({"offset": offset}).encode()).decode()


def _offset(cursor: str) -> int:
    return int(json.loads(base64.b64decode(cursor))["offset"])


class ZendeskReplay:
    """Incremental cursor export and per-ticket audits from the recorded zenpy pages."""

    def __init__(self, fixtures: Path):
        folder = fixtures / "zendesk"
        full = json.loads((folder / "zenpy_betamax_incremental_tickets_cursor_full.json").read_text())
        self.tickets: list[dict[str, Any]] = full["tickets"]
        audits = json.loads((folder / "zenpy_betamax_ticket_audits_page100.json").read_text())["audits"]
        self.audits: dict[str, list[dict[str, Any]]] = {}
        for audit in sorted(audits, key=lambda a: (a["created_at"], a["id"])):
            self.audits.setdefault(str(audit["ticket_id"]), []).append(audit)

    def route(self, path: str, query: Query) -> Reply | None:
        if path == ZENDESK_TICKETS:
            return self._tickets(query)
        parts = path.strip("/").split("/")
        if parts[:3] == ["api", "v2", "tickets"] and len(parts) == 5 and parts[4] == "audits.json":
            return self._audits(parts[3], query)
        return None

    def _tickets(self, query: Query) -> Reply:
        per_page = int(query.get("per_page", "1000"))
        if "cursor" in query:
            offset = _offset(query["cursor"])
        else:
            start = int(query["start_time"])
            offset = next((i for i, t in enumerate(self.tickets) if t["generated_timestamp"] >= start), 0)
        page = self.tickets[offset : offset + per_page]
        after = _cursor(offset + len(page))
        return Reply(
            200,
            {
                "tickets": page,
                # An absolute URL on another host, as Zendesk sends: following it would leave 127.0.0.1.
                "after_url": f"https://acme.zendesk.example/api/v2/incremental/tickets/cursor.json?cursor={after}",
                "before_url": None,
                "after_cursor": after,
                "before_cursor": None,
                "end_of_stream": offset + len(page) >= len(self.tickets),
            },
        )

    def _audits(self, ticket_id: str, query: Query) -> Reply | None:
        if not ticket_id.isdigit():
            return None
        audits = self.audits.get(ticket_id, [])
        size = int(query.get("page[size]", "100"))
        offset = _offset(query["page[after]"]) if "page[after]" in query else 0
        page = audits[offset : offset + size]
        more = offset + len(page) < len(audits)
        after = _cursor(offset + len(page))
        return Reply(
            200,
            {
                "audits": page,
                "meta": {"has_more": more, "after_cursor": after, "before_cursor": _cursor(offset)},
                "links": {
                    "next": f"https://acme.zendesk.example/api/v2/tickets/{ticket_id}/audits.json?page%5Bafter%5D={after}"
                    if more
                    else None,
                    "prev": None,
                },
            },
        )


def _jsonl_streams(path: Path) -> dict[str, list[dict[str, Any]]]:
    streams: dict[str, list[dict[str, Any]]] = {}
    for line in path.read_text().splitlines():
        if line.strip():
            record = json.loads(line)
            streams.setdefault(record["stream"], []).append(record["data"])
    return streams


class FreshdeskReplay:
    """Tickets (with stats), conversations, ticket_fields, groups and agents from the recorded bodies."""

    def __init__(self, fixtures: Path):
        folder = fixtures / "freshdesk"
        airbyte = _jsonl_streams(folder / "airbyte_freshdesk_expected_records_subset.jsonl")
        single = json.loads((folder / "python-freshdesk_ticket_1.json").read_text())
        self.tickets = sorted([single, *airbyte["tickets"]], key=lambda t: (t["updated_at"], t["id"]))
        self.conversations: dict[str, list[dict[str, Any]]] = {}
        for item in json.loads((folder / "python-freshdesk_conversations.json").read_text()) + airbyte.get(
            "conversations", []
        ):
            self.conversations.setdefault(str(item["ticket_id"]), []).append(item)
        self.lists = {
            "/api/v2/ticket_fields": airbyte["ticket_fields"],
            "/api/v2/groups": json.loads((folder / "python-freshdesk_groups.json").read_text()),
            "/api/v2/agents": json.loads((folder / "python-freshdesk_agents.json").read_text()),
        }

    def route(self, path: str, query: Query) -> Reply | None:
        per_page = int(query.get("per_page", "30"))
        page = int(query.get("page", "1"))
        if path == "/api/v2/tickets":
            since = datetime.fromisoformat(query["updated_since"])
            chosen = [t for t in self.tickets if datetime.fromisoformat(t["updated_at"]) >= since]
            return Reply(200, chosen[(page - 1) * per_page : page * per_page])
        if path in self.lists:
            items = self.lists[path]
            return Reply(
                200,
                items if path.endswith("ticket_fields") else items[(page - 1) * per_page : page * per_page],
            )
        parts = path.strip("/").split("/")
        if parts[:3] == ["api", "v2", "tickets"] and len(parts) == 5 and parts[4] == "conversations":
            items = self.conversations.get(parts[3], [])
            return Reply(200, items[(page - 1) * per_page : page * per_page])
        return None


@pytest.fixture
def zendesk_server(shared_fixtures: Path) -> Iterator[ReplayServer]:
    replay = ZendeskReplay(shared_fixtures)
    server = ReplayServer(replay.route, expected_authorization=basic(f"{ZENDESK_EMAIL}/token", TOKEN)).start()
    yield server
    server.stop()


@pytest.fixture
def freshdesk_server(shared_fixtures: Path) -> Iterator[ReplayServer]:
    replay = FreshdeskReplay(shared_fixtures)
    server = ReplayServer(replay.route, expected_authorization=basic(TOKEN, "X")).start()
    yield server
    server.stop()


@pytest.fixture
def token_env(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("HELPDESK_API_TOKEN", TOKEN)
    return "HELPDESK_API_TOKEN"


class RecordingSleep:
    """Really sleeps (the delays are tiny in tests) and remembers every delay asked for."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        import time

        self.delays.append(seconds)
        time.sleep(seconds)


@pytest.fixture
def sleeps() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def fast_retry(sleeps: RecordingSleep) -> RetryPolicy:
    return RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05, read_timeout=10, sleep=sleeps)


def client_for(server: ReplayServer) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=10)
