from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from connectors.config import FreshdeskFilesConfig
from connectors.freshdesk import collect_freshdesk_lookups, csat_from_rating, parse_freshdesk_file


def _config(**extra: object) -> FreshdeskFilesConfig:
    return FreshdeskFilesConfig.model_validate(
        {"kind": "freshdesk_files", "name": "fd", "path": "x", **extra}
    )


def test_codes_decoded_with_names_from_a_separate_reference_file(samples: Path) -> None:
    lookups = collect_freshdesk_lookups(
        [samples / "freshdesk_reference.json", samples / "freshdesk_tickets.json"]
    )
    parsed = parse_freshdesk_file(samples / "freshdesk_tickets.json", _config(), lookups)
    rows = {r["external_id"]: r for r in parsed.batch.interactions.iter_rows(named=True)}
    first = rows["501"]
    assert (first["status"], first["priority"], first["channel"]) == ("pending", "high", "chat")
    assert (first["team"], first["agent"], first["customer"]) == (
        "Payments",
        "Priya Agent",
        "dana@example.org",
    )
    assert first["first_response_at"] == datetime(2025, 2, 3, 10, 20, tzinfo=UTC)
    second = rows["502"]
    assert (second["status"], second["priority"], second["channel"]) == ("solved", "normal", "email")
    assert second["reopens"] == 1 and second["csat"] == 1
    assert second["resolved_at"] == datetime(2025, 2, 5, 10, tzinfo=UTC)


def test_unknown_status_code_is_rejected_with_row_and_field(samples: Path) -> None:
    parsed = parse_freshdesk_file(samples / "freshdesk_tickets.json", _config())
    [rejection] = parsed.batch.rejections
    assert (rejection.file, rejection.row, rejection.field) == ("freshdesk_tickets.json", 3, "status")
    assert "99" in rejection.reason


def test_status_map_can_name_codes_or_labels(samples: Path) -> None:
    parsed = parse_freshdesk_file(samples / "freshdesk_tickets.json", _config(status_map={"99": "on_hold"}))
    rows = {r["external_id"]: r["status"] for r in parsed.batch.interactions.iter_rows(named=True)}
    assert rows["503"] == "on_hold" and not parsed.batch.rejections


def test_conversations_become_typed_events(samples: Path) -> None:
    events = parse_freshdesk_file(samples / "freshdesk_tickets.json", _config()).batch.events.sort("at")
    assert events["type"].to_list() == ["customer_message", "internal_note", "agent_reply"]
    assert set(events["interaction_id"]) == {"fd:501"}


def test_location_from_custom_field(samples: Path) -> None:
    parsed = parse_freshdesk_file(samples / "freshdesk_tickets.json", _config(location_field="cf_store"))
    assert parsed.batch.interactions.filter(external_id="501")["location"].item() == "Store 12"


def test_csv_export_labels_and_account_time_zone(samples: Path) -> None:
    parsed = parse_freshdesk_file(samples / "freshdesk_export.csv", _config(time_zone="Europe/Paris"))
    rows = {r["external_id"]: r for r in parsed.batch.interactions.iter_rows(named=True)}
    first = rows["601"]
    assert first["created_at"] == datetime(2025, 3, 1, 8, tzinfo=UTC)  # 09:00 Paris
    assert (first["status"], first["priority"], first["channel"], first["csat"]) == (
        "closed",
        "urgent",
        "phone",
        5,
    )
    assert first["tags"] == ["locker", "gym"] and first["location"] == "Gym Nord"
    assert rows["602"]["status"] == "on_hold"
    [rejection] = parsed.batch.rejections
    assert (rejection.row, rejection.field) == (4, "created time")


def test_rating_scale() -> None:
    assert [csat_from_rating(v) for v in (103, 102, 100, -102, -103, None)] == [5, 4, 3, 2, 1, None]
