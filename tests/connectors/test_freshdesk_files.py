from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from connectors.config import FreshdeskFilesConfig
from connectors.files import UnreadableFileError
from connectors.freshdesk import csat_from_rating, parse_freshdesk_file
from connectors.freshdesk_lookups import collect_freshdesk_lookups

API_EXPORT = "freshdesk_api_export"


def _utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2025, 4, day, hour, minute, tzinfo=UTC)


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
    messages = events.filter(pl.col("type") != "status_change")
    assert messages["type"].to_list() == ["customer_message", "internal_note", "agent_reply"]
    assert set(messages["interaction_id"]) == {"fd:501"}
    # the incoming message is by the requester, named by the e-mail embedded in their ticket
    assert messages["author"].to_list() == ["dana@example.org", "51", "51"]


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


def test_api_files_are_joined_across_the_folder(samples: Path) -> None:
    """Tickets, conversations, ratings, companies, groups and agents, each in its own file as the API
    returns them (bare arrays or a `satisfaction_ratings` page)."""
    folder = samples / API_EXPORT
    lookups = collect_freshdesk_lookups(sorted(folder.iterdir()))
    parsed = {path.name: parse_freshdesk_file(path, _config(), lookups) for path in sorted(folder.iterdir())}
    assert all(p.other_streams == {} for p in parsed.values())
    tickets = parsed["tickets.json"].batch
    assert tickets.rejections == []
    rows = {r["external_id"]: r for r in tickets.interactions.iter_rows(named=True)}
    assert (rows["701"]["location"], rows["701"]["team"], rows["701"]["agent"]) == (
        "Berlin Mitte",
        "Card Services",
        "Priya Agent",
    )
    assert rows["701"]["csat"] == 5  # the newer of its two ratings (103), from satisfaction_ratings.json
    assert rows["702"]["location"] == "Munich" and rows["702"]["csat"] is None
    assert rows["702"]["customer"] == "62"  # no embedded requester: the contact id
    [rejection] = parsed["satisfaction_ratings.json"].batch.rejections
    assert (rejection.row, rejection.field) == (3, "ticket_id") and "ticket 999" in rejection.reason
    conversations = parsed["conversations.json"].batch
    assert conversations.rejections == []
    authors = conversations.events.sort("at").select("type", "author").rows()
    assert authors == [
        ("agent_reply", "Priya Agent"),
        ("internal_note", "Priya Agent"),
        ("customer_message", "dana@example.org"),  # the requester, by e-mail from tickets.json
    ]


def test_description_is_the_first_customer_message(samples: Path) -> None:
    events = parse_freshdesk_file(samples / API_EXPORT / "tickets.json", _config()).batch.events
    [first] = events.filter(type="customer_message").iter_rows(named=True)
    assert (first["interaction_id"], first["at"], first["author"], first["body"]) == (
        "fd:701",
        _utc(1, 8),
        "dana@example.org",
        "My card was declined.",
    )  # ticket 702 has an empty description: no message


def test_partial_status_history_from_stats(samples: Path) -> None:
    events = parse_freshdesk_file(samples / API_EXPORT / "tickets.json", _config()).batch.events
    history = events.filter(type="status_change").sort("interaction_id", "at")
    assert history.select("interaction_id", "at", "status").rows() == [
        # created open; reopened_at (still open) adds nothing; resolved; closed (also the current status)
        ("fd:701", _utc(1, 8), "open"),
        ("fd:701", _utc(2, 10), "solved"),
        ("fd:701", _utc(3, 10), "closed"),
        # created open; pending since status_updated_at
        ("fd:702", _utc(1, 9), "open"),
        ("fd:702", _utc(1, 11), "pending"),
    ]


def test_current_status_without_its_own_stats_time(tmp_path: Path) -> None:
    """A custom "waiting on third party" status is known only from status_updated_at."""
    path = tmp_path / "tickets.json"
    path.write_text(
        '[{"id": 9, "status": 7, "priority": 1, "source": 1, "created_at": "2025-04-01T08:00:00Z",'
        ' "updated_at": "2025-04-01T09:00:00Z", "stats": {"status_updated_at": "2025-04-01T09:00:00Z"}}]'
    )
    history = parse_freshdesk_file(path, _config()).batch.events.sort("at")
    assert history.select("at", "status").rows() == [(_utc(1, 8), "open"), (_utc(1, 9), "on_hold")]


@pytest.mark.parametrize(
    "ratings",
    [
        '[{"id": 1, "ticket_id": 9, "ratings": {"default_question": -102}, "created_at": "2025-04-02T00:00:00Z"}]',
        '{"satisfaction_ratings": [{"id": 1, "ticket_id": 9, "ratings": {"default_question": -102},'
        ' "created_at": "2025-04-02T00:00:00Z"}]}',
    ],
)
def test_ratings_file_as_a_bare_array_or_a_page(tmp_path: Path, ratings: str) -> None:
    (tmp_path / "tickets.json").write_text(
        '[{"id": 9, "status": 4, "priority": 1, "source": 1, "created_at": "2025-04-01T08:00:00Z",'
        ' "updated_at": "2025-04-01T09:00:00Z"}]'
    )
    (tmp_path / "ratings.json").write_text(ratings)
    lookups = collect_freshdesk_lookups(sorted(tmp_path.iterdir()))
    rated = parse_freshdesk_file(tmp_path / "tickets.json", _config(), lookups).batch
    assert rated.interactions["csat"].to_list() == [2]
    alone = parse_freshdesk_file(tmp_path / "ratings.json", _config(), lookups).batch
    assert alone.rejections == [] and alone.interactions.is_empty()
    # read on its own, the rating's ticket is in no file it knows: reported, not dropped
    [rejection] = parse_freshdesk_file(tmp_path / "ratings.json", _config()).batch.rejections
    assert rejection.field == "ticket_id"


def test_companies_as_a_bare_array_name_the_location(tmp_path: Path) -> None:
    (tmp_path / "companies.json").write_text('[{"id": 3, "name": "Paris Opéra", "domains": []}]')
    lookups = collect_freshdesk_lookups([tmp_path / "companies.json"])
    assert lookups.companies == {"3": "Paris Opéra"}
    parsed = parse_freshdesk_file(tmp_path / "companies.json", _config(), lookups)
    assert parsed.batch.rejections == [] and parsed.other_streams == {}


def test_a_broken_file_does_not_stop_the_folder(samples: Path, tmp_path: Path) -> None:
    broken = tmp_path / "groups.json"
    broken.write_text("[{")
    lookups = collect_freshdesk_lookups([broken, samples / "freshdesk_reference.json"])
    assert lookups.groups == {"41": "Payments", "42": "Returns"}
    with pytest.raises(UnreadableFileError, match=r"groups\.json: not valid JSON"):
        parse_freshdesk_file(broken, _config(), lookups)
