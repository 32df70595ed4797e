from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from connectors.config import ServicenowCsvConfig
from connectors.servicenow import parse_servicenow_csv


def _config(**extra: object) -> ServicenowCsvConfig:
    return ServicenowCsvConfig.model_validate(
        {"kind": "servicenow_csv", "name": "snow", "path": "x", **extra}
    )


def test_audit_log_gives_one_interaction_and_state_history(samples: Path) -> None:
    batch = parse_servicenow_csv(samples / "servicenow_audit_log.csv", _config())
    incident = batch.interactions.filter(external_id="INC0100").row(0, named=True)
    assert incident["interaction_id"] == "snow:INC0100"
    assert (incident["status"], incident["priority"], incident["channel"]) == ("closed", "urgent", "phone")
    assert (incident["location"], incident["team"], incident["agent"]) == (
        "Branch 7",
        "Service Desk",
        "Resolver 4",
    )
    assert incident["created_at"] == datetime(2025, 3, 1, 8, 5, tzinfo=UTC)  # 1/3 is the 1st of March
    assert incident["resolved_at"] == datetime(2025, 3, 2, 11, tzinfo=UTC)
    assert incident["closed_at"] == datetime(2025, 3, 7, 11, tzinfo=UTC)
    assert incident["updated_at"] == incident["_replication_key"] == datetime(2025, 3, 7, 11, tzinfo=UTC)
    assert incident["_row"] == 8
    history = batch.events.filter(interaction_id="snow:INC0100", type="status_change").sort("at")
    assert history["status"].to_list() == ["new", "open", "pending", "open", "solved", "closed"]
    assignments = batch.events.filter(interaction_id="snow:INC0100", type="assignment")
    assert assignments["body"].to_list() == ["Resolver 4"]


def test_question_marks_are_null_and_bad_dates_rejected(samples: Path) -> None:
    batch = parse_servicenow_csv(samples / "servicenow_audit_log.csv", _config())
    other = batch.interactions.filter(external_id="INC0101").row(0, named=True)
    assert other["agent"] is None and other["resolved_at"] is None
    assert (other["status"], other["channel"], other["reopens"]) == ("new", "web", 1)
    [rejection] = batch.rejections
    assert (rejection.file, rejection.row, rejection.field) == (
        "servicenow_audit_log.csv",
        10,
        "sys_updated_at",
    )
    assert "32/3/2025" in rejection.reason


def test_time_zone_of_the_export_is_applied(samples: Path) -> None:
    batch = parse_servicenow_csv(samples / "servicenow_audit_log.csv", _config(time_zone="Europe/Paris"))
    incident = batch.interactions.filter(external_id="INC0100").row(0, named=True)
    assert incident["created_at"] == datetime(2025, 3, 1, 7, 5, tzinfo=UTC)


def test_unmapped_state_is_rejected_unless_configured(tmp_path: Path) -> None:
    path = tmp_path / "incidents.csv"
    path.write_text("number,incident_state,opened_at,priority\nINC1,Parked,01-02-2025 10:00,3 - Moderate\n")
    batch = parse_servicenow_csv(path, _config())
    assert batch.interactions.height == 0
    assert (batch.rejections[0].row, batch.rejections[0].field) == (2, "incident_state")
    mapped = parse_servicenow_csv(path, _config(status_map={"Parked": "on_hold"}))
    assert mapped.interactions["status"].to_list() == ["on_hold"]
    assert mapped.interactions["created_at"].to_list() == [datetime(2025, 2, 1, 10, tzinfo=UTC)]


def test_missing_required_column_rejects_the_file(tmp_path: Path) -> None:
    path = tmp_path / "incidents.csv"
    path.write_text("number,opened_at\nINC1,01-02-2025 10:00\n")
    batch = parse_servicenow_csv(path, _config())
    assert batch.interactions.height == 0 and batch.rejections[0].field == "incident_state"
