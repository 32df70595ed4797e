from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.config import ZendeskFilesConfig
from connectors.files import UnreadableFileError
from connectors.zendesk import parse_zendesk_file
from connectors.zendesk_context import collect_zendesk_context

API_EXPORT = "zendesk_api_export"
TICKETS, AUDITS, RATINGS = (
    "incremental-tickets-0001.json",
    "ticket-audits-0001.json",
    "satisfaction-ratings-0001.json",
)


def _config(**extra: object) -> ZendeskFilesConfig:
    return ZendeskFilesConfig.model_validate({"kind": "zendesk_files", "name": "zd", "path": "x", **extra})


def test_airbyte_envelopes_map_tickets_metrics_ratings_and_names(samples: Path) -> None:
    parsed = parse_zendesk_file(samples / "zendesk_export.jsonl", _config())
    rows = {r["external_id"]: r for r in parsed.batch.interactions.iter_rows(named=True)}
    assert set(rows) == {"10", "11"}
    first = rows["10"]
    assert first["interaction_id"] == "zd:10"
    assert (first["channel"], first["priority"], first["status"]) == ("email", "high", "solved")
    assert (first["team"], first["location"], first["agent"]) == ("Front Desk", "Lyon Part-Dieu", "Ana Agent")
    assert first["customer"] == "carl@example.org"  # the e-mail, a stable id for repeat contacts
    assert first["first_response_at"] == datetime(
        2025, 1, 6, 9, 30, tzinfo=UTC
    )  # created + 90 calendar minutes
    assert first["resolved_at"] == datetime(2025, 1, 7, 9, 45, tzinfo=UTC)
    assert first["reopens"] == 1
    assert first["csat"] == 1  # the satisfaction_ratings stream says bad; the ticket only says offered
    assert first["_row"] == 5 and first["_file"] == "zendesk_export.jsonl"
    second = rows["11"]
    assert (second["channel"], second["status"], second["priority"]) == ("chat", "on_hold", None)
    assert second["created_at"] == datetime(2025, 1, 6, 8, 0, tzinfo=UTC)  # +01:00 converted
    assert second["location"] == "702"  # unknown organisation keeps its id
    assert len(parsed.schedules) == 1


def test_malformed_records_become_rejections_naming_file_row_and_field(samples: Path) -> None:
    parsed = parse_zendesk_file(samples / "zendesk_export.jsonl", _config())
    found = {(r.file, r.row, r.field) for r in parsed.batch.rejections}
    assert ("zendesk_export.jsonl", 7, "created_at") in found
    assert any(
        r.row == 14 and r.field is None and "not valid JSON" in r.reason for r in parsed.batch.rejections
    )
    assert len(parsed.batch.rejections) == 2


def test_comments_are_split_by_visibility_and_author_role(samples: Path) -> None:
    events = parse_zendesk_file(samples / "zendesk_export.jsonl", _config()).batch.events
    kinds = events.sort("at")["type"].to_list()
    assert kinds == ["customer_message", "internal_note", "agent_reply"]


def test_audits_give_status_history_and_assignment(samples: Path) -> None:
    parsed = parse_zendesk_file(samples / "zendesk_audits.json", _config())
    events = parsed.batch.events
    history = events.filter(type="status_change").sort("at")["status"].to_list()
    assert history == ["new", "open", "solved"]
    assert events.filter(type="assignment")["body"].to_list() == ["9001"]
    assert events.filter(type="customer_message").height == 1  # the requester, learned from the audit itself
    assert events.filter(type="agent_reply").height == 1
    [rejection] = parsed.batch.rejections
    assert (rejection.row, rejection.field) == (4, "events[0].value") and "escalated" in rejection.reason


def test_overrides_and_custom_location_field(samples: Path) -> None:
    config = _config(location_field="360001", status_map={"hold": "pending"}, csat_bad=2)
    rows = {
        r["external_id"]: r
        for r in parse_zendesk_file(samples / "zendesk_export.jsonl", config).batch.interactions.iter_rows(
            named=True
        )
    }
    assert rows["10"]["location"] == "LYS-01"
    assert rows["10"]["csat"] == 2
    assert rows["11"]["status"] == "pending"
    assert rows["11"]["location"] is None


def test_deleted_tickets_closed_with_tag_or_rejected(tmp_path: Path) -> None:
    page = tmp_path / "page.json"
    page.write_text(
        '{"tickets": [{"id": 5, "status": "deleted", "created_at": "2025-01-01T00:00:00Z",'
        ' "updated_at": "2025-01-02T00:00:00Z"}], "end_of_stream": true}'
    )
    kept = parse_zendesk_file(page, _config()).batch.interactions.row(0, named=True)
    assert kept["status"] == "closed" and "deleted" in kept["tags"]
    rejected = parse_zendesk_file(page, _config(deleted_tickets="reject")).batch
    assert rejected.interactions.height == 0 and rejected.rejections[0].field == "status"


def test_incremental_page_keeps_its_sideloads(samples: Path) -> None:
    """users, groups, organizations and metric_sets sideloaded beside `tickets` are all read."""
    parsed = parse_zendesk_file(samples / API_EXPORT / TICKETS, _config())
    assert parsed.batch.rejections == [] and parsed.other_streams == {}
    rows = {r["external_id"]: r for r in parsed.batch.interactions.iter_rows(named=True)}
    first = rows["20"]
    assert (first["team"], first["location"], first["agent"]) == ("Deliveries", "Leeds", "Sam Agent")
    assert first["customer"] == "ana@example.org"
    assert first["first_response_at"] == datetime(2025, 3, 3, 9, 15, tzinfo=UTC)  # metric_sets
    assert first["resolved_at"] == datetime(2025, 3, 3, 11, tzinfo=UTC) and first["reopens"] == 0
    assert first["csat"] is None  # only offered, as far as this page knows
    assert rows["21"]["customer"] == "Bo Walker"  # no e-mail: the display name
    assert rows["21"]["location"] == "York" and rows["21"]["_row"] == 2


def test_names_ratings_and_requesters_are_joined_across_the_folder(samples: Path) -> None:
    files = sorted((samples / API_EXPORT).iterdir())
    context = collect_zendesk_context(files)
    tickets = parse_zendesk_file(samples / API_EXPORT / TICKETS, _config(), context).batch
    assert tickets.rejections == []
    assert tickets.interactions.filter(external_id="20")["csat"].item() == 5  # from the ratings page
    audits = parse_zendesk_file(samples / API_EXPORT / AUDITS, _config(), context).batch
    assert audits.rejections == [] and audits.interactions.is_empty()
    events = audits.events.sort("at").select("type", "status", "author", "body").rows()
    assert events == [
        ("customer_message", None, "ana@example.org", "My parcel never arrived."),
        ("status_change", "new", "ana@example.org", None),
        ("assignment", None, "system", "Sam Agent"),
        ("status_change", "open", "system", None),
        ("agent_reply", None, "Sam Agent", "It is on its way again."),
        ("status_change", "solved", "Sam Agent", None),
    ]
    ratings = parse_zendesk_file(samples / API_EXPORT / RATINGS, _config(), context).batch
    [rejection] = ratings.rejections  # ticket 20's rating was applied; ticket 99 is nowhere
    assert (rejection.file, rejection.row, rejection.field) == (RATINGS, 2, "ticket_id")
    assert "ticket 99" in rejection.reason and "no file of this export" in rejection.reason


def test_audits_page_alone_uses_ids_and_learns_the_requester(samples: Path) -> None:
    batch = parse_zendesk_file(samples / API_EXPORT / AUDITS, _config()).batch
    assert batch.rejections == []
    messages = batch.events.filter(type="customer_message")
    assert messages["author"].to_list() == ["8101"]  # no users stream: the id, still told a customer
    assert batch.events.filter(type="agent_reply")["author"].to_list() == ["9101"]
    assert set(batch.events.filter(type="assignment")["author"]) == {"system"}


@pytest.mark.parametrize("key", ["metric_sets", "ticket_metrics"])
def test_metric_lists_of_either_name_are_ticket_metrics(tmp_path: Path, key: str) -> None:
    page = tmp_path / "page.json"
    page.write_text(
        '{"tickets": [{"id": 5, "status": "open", "created_at": "2025-01-01T00:00:00Z",'
        ' "updated_at": "2025-01-01T01:00:00Z"}],'
        f' "{key}": [{{"ticket_id": 5, "reopens": 2, "reply_time_in_minutes": {{"calendar": 30}}}}]}}'
    )
    row = parse_zendesk_file(page, _config()).batch.interactions.row(0, named=True)
    assert row["reopens"] == 2 and row["first_response_at"] == datetime(2025, 1, 1, 0, 30, tzinfo=UTC)


def test_a_broken_file_does_not_stop_the_folder(samples: Path, tmp_path: Path) -> None:
    broken = tmp_path / "incremental_tickets-0002.json"
    broken.write_text('{"tickets": [')
    context = collect_zendesk_context([broken, samples / API_EXPORT / TICKETS])
    assert context.tickets == {"20", "21"}
    with pytest.raises(UnreadableFileError, match=r"incremental_tickets-0002\.json: not valid JSON"):
        parse_zendesk_file(broken, _config(), context)
