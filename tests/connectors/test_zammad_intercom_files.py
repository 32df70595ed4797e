from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from connectors.config import IntercomFilesConfig, ZammadFilesConfig
from connectors.intercom import parse_intercom_file
from connectors.zammad import parse_zammad_file


def test_zammad_expanded_tickets(samples: Path) -> None:
    config = ZammadFilesConfig(kind="zammad_files", name="zammad", path="x")
    batch = parse_zammad_file(samples / "zammad_tickets.json", config).batch
    rows = {r["external_id"]: r for r in batch.interactions.iter_rows(named=True)}
    pending = rows["31007"]
    assert (pending["status"], pending["priority"], pending["channel"]) == ("pending", "high", "email")
    assert pending["agent"] is None  # "-" is Zammad's "nobody"
    assert pending["first_response_at"] is None and pending["tags"] == []
    assert pending["created_at"] == datetime(2025, 4, 1, 7, 0, 0, 120000, tzinfo=UTC)
    closed = rows["31008"]
    assert closed["status"] == "closed" and closed["location"] == "4"
    assert closed["closed_at"] == datetime(2025, 4, 2, 9, tzinfo=UTC)
    assert batch.events.sort("at")["type"].to_list() == ["customer_message", "internal_note"]
    [rejection] = batch.rejections
    assert (rejection.row, rejection.field) == (3, "state") and "awaiting parts" in rejection.reason


def test_intercom_epoch_seconds_parts_and_bots(samples: Path) -> None:
    config = IntercomFilesConfig(kind="intercom_files", name="ic", path="x")
    batch = parse_intercom_file(samples / "intercom_conversations.jsonl", config).batch
    rows = {r["external_id"]: r for r in batch.interactions.iter_rows(named=True)}
    first = rows["301"]
    assert first["created_at"] == datetime(2025, 1, 6, 8, tzinfo=UTC)
    assert first["first_response_at"] == datetime(2025, 1, 6, 8, 10, tzinfo=UTC)
    assert (first["status"], first["priority"], first["channel"]) == ("solved", "high", "email")
    assert (first["team"], first["agent"], first["customer"]) == ("Bookings", "Olga Admin", "c-1")
    assert (first["reopens"], first["csat"], first["tags"]) == (2, 4, ["vip"])
    assert rows["302"]["status"] == "pending" and rows["302"]["channel"] == "chat"
    kinds = batch.events.sort("at").select("type", "status").rows()
    assert kinds == [
        ("customer_message", None),
        ("internal_note", None),
        ("internal_note", None),
        ("agent_reply", None),
        ("status_change", "solved"),
    ]
    found = {(r.row, r.field) for r in batch.rejections}
    assert found == {(5, "created_at"), (11, None)}


def test_intercom_bot_replies_can_count(samples: Path) -> None:
    config = IntercomFilesConfig(
        kind="intercom_files", name="ic", path="x", bot_replies_count_as_response=True
    )
    events = parse_intercom_file(samples / "intercom_conversations.jsonl", config).batch.events
    assert events.filter(author="Operator")["type"].to_list() == ["agent_reply"]
