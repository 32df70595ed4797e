from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from connectors.config import ZendeskFilesConfig
from connectors.zendesk import parse_zendesk_file


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
    assert first["customer"] == "Carl Customer"
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
