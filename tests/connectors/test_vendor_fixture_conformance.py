"""Conformance of the vendor parsers on real third-party exports (../shared/fixtures)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from connectors.config import (
    FreshdeskFilesConfig,
    IntercomFilesConfig,
    ServicenowCsvConfig,
    ZammadFilesConfig,
    ZendeskFilesConfig,
)
from connectors.freshdesk import parse_freshdesk_file
from connectors.freshdesk_lookups import collect_freshdesk_lookups
from connectors.intercom import parse_intercom_file
from connectors.servicenow import parse_servicenow_csv
from connectors.validate import validate_batch
from connectors.zammad import parse_zammad_file
from connectors.zendesk import parse_zendesk_file
from servicelens.model import Channel, EventType, Priority, Status

pytestmark = pytest.mark.fixtures
STATUSES = {s.value for s in Status}
CHANNELS = {c.value for c in Channel}
PRIORITIES = {p.value for p in Priority} | {None}
ZENDESK = ZendeskFilesConfig(kind="zendesk_files", name="zendesk", path="x")


def _assert_canonical(frame: pl.DataFrame) -> None:
    assert set(frame["status"]) <= STATUSES
    assert set(frame["channel"]) <= CHANNELS
    assert set(frame["priority"]) <= PRIORITIES
    assert frame["created_at"].null_count() == 0 and frame["updated_at"].null_count() == 0
    assert frame["interaction_id"].n_unique() == frame.height


def test_zendesk_incremental_export_all_87_tickets_map(shared_fixtures: Path) -> None:
    path = shared_fixtures / "zendesk" / "zenpy_betamax_incremental_tickets_cursor_full.json"
    batch = parse_zendesk_file(path, ZENDESK).batch
    assert batch.interactions.height == 87 and not batch.rejections
    _assert_canonical(batch.interactions)
    assert batch.interactions["_row"].to_list() == list(range(1, 88))
    counts = dict(batch.interactions.group_by("status").len().iter_rows())
    assert counts == {"new": 77, "pending": 8, "open": 1, "closed": 1}  # the deleted ticket is kept as closed
    assert batch.interactions.filter(pl.col("tags").list.contains("deleted")).height == 1
    assert validate_batch(batch).quarantine.height == 0


def test_zendesk_cursor_page_of_one(shared_fixtures: Path) -> None:
    path = shared_fixtures / "zendesk" / "zenpy_betamax_incremental_tickets_cursor_per_page1.json"
    batch = parse_zendesk_file(path, ZENDESK).batch
    assert batch.interactions["interaction_id"].to_list() == ["zendesk:28"]


def test_zendesk_audits_give_status_histories(shared_fixtures: Path) -> None:
    batch = parse_zendesk_file(
        shared_fixtures / "zendesk" / "zenpy_betamax_ticket_audits_page100.json", ZENDESK
    ).batch
    assert not batch.rejections
    changes = batch.events.filter(type=EventType.STATUS_CHANGE.value)
    assert changes["interaction_id"].n_unique() >= 80
    assert set(changes["status"]) <= STATUSES
    ticket_one = changes.filter(interaction_id="zendesk:1").sort("at")
    assert ticket_one.height >= 2  # created open, later changed
    assert batch.events.filter(type=EventType.CUSTOMER_MESSAGE.value).height > 0


def test_zendesk_airbyte_streams(shared_fixtures: Path) -> None:
    parsed = parse_zendesk_file(
        shared_fixtures / "zendesk" / "airbyte_d3v_expected_records_subset.jsonl", ZENDESK
    )
    rows = {r["external_id"]: r for r in parsed.batch.interactions.iter_rows(named=True)}
    assert set(rows) == {"1", "145", "146"}
    assert rows["145"]["channel"] == "phone" and rows["1"]["status"] == "closed"
    assert [s["time_zone"] for s in parsed.schedules] == ["New Caledonia"]
    assert len(parsed.sla_policies) == 2
    assert parsed.batch.events.filter(interaction_id="zendesk:1")["type"].to_list() == ["agent_reply"] * 2
    # metrics of tickets not in the file are reported, not dropped
    assert {r.field for r in parsed.batch.rejections} == {"ticket_id"}


def test_zendesk_satisfaction_good_maps_to_csat(shared_fixtures: Path) -> None:
    parsed = parse_zendesk_file(
        shared_fixtures / "zendesk" / "airbyte_unit_response_satisfaction_ratings.json", ZENDESK
    )
    [rejection] = parsed.batch.rejections  # rating for ticket 35436, whose ticket is not in the file
    assert "35436" in rejection.reason
    metrics = parse_zendesk_file(
        shared_fixtures / "zendesk" / "airbyte_unit_response_ticket_metrics.json", ZENDESK
    )
    assert metrics.batch.rejections[0].field == "ticket_id"


def test_servicenow_890_incidents_with_state_history(shared_fixtures: Path) -> None:
    config = ServicenowCsvConfig(kind="servicenow_csv", name="servicenow", path="x")
    batch = parse_servicenow_csv(shared_fixtures / "servicenow" / "incident_event_log_first5998.csv", config)
    assert batch.interactions.height == 890 and not batch.rejections
    _assert_canonical(batch.interactions)
    raw = pl.read_csv(shared_fixtures / "servicenow" / "incident_event_log_first5998.csv", infer_schema=False)
    assert batch.interactions["location"].n_unique() == raw["location"].n_unique()
    first = batch.events.filter(interaction_id="servicenow:INC0000045", type="status_change").sort("at")
    assert first["status"].to_list() == ["new", "solved", "closed"]
    assert first["at"].to_list()[0] == datetime(2016, 2, 29, 1, 23, tzinfo=UTC)
    incident = batch.interactions.filter(external_id="INC0000045").row(0, named=True)
    assert incident["created_at"] == datetime(2016, 2, 29, 1, 16, tzinfo=UTC)
    assert incident["priority"] == "normal"  # "3 - Moderate"
    # every incident's history starts with a status event and changes only when the state changes
    per_incident = (
        batch.events.filter(type="status_change")
        .group_by("interaction_id")
        .agg((pl.col("status") == pl.col("status").shift(1)).sum().alias("repeats"))
    )
    assert per_incident.height == 890 and per_incident["repeats"].sum() == 0
    assert set(batch.interactions["priority"]) == {"urgent", "high", "normal", "low"}


def test_freshdesk_numeric_codes_decoded(shared_fixtures: Path) -> None:
    config = FreshdeskFilesConfig(kind="freshdesk_files", name="freshdesk", path="x")
    files = sorted((shared_fixtures / "freshdesk").iterdir())
    lookups = collect_freshdesk_lookups(files)
    parsed = parse_freshdesk_file(
        shared_fixtures / "freshdesk" / "airbyte_freshdesk_expected_records_subset.jsonl", config, lookups
    )
    rows = {r["external_id"]: r for r in parsed.batch.interactions.iter_rows(named=True)}
    assert not parsed.batch.rejections and len(rows) == 6
    _assert_canonical(parsed.batch.interactions)
    assert (rows["18"]["status"], rows["18"]["priority"], rows["18"]["channel"]) == (
        "open",
        "normal",
        "email",
    )
    assert (rows["22"]["status"], rows["22"]["channel"]) == ("pending", "phone")
    assert rows["21"]["status"] == "closed" and rows["18"]["team"] == "Billing"
    assert rows["23"]["csat"] == 5  # rating 103 = extremely happy
    events = parsed.batch.events.sort("at")
    created = parsed.batch.interactions.select("interaction_id", "created_at")
    descriptions = (pl.col("type") == "customer_message") & (pl.col("at") == pl.col("created_at"))
    conversations = events.join(created, on="interaction_id").filter(
        (pl.col("type") != "status_change") & ~descriptions
    )
    assert conversations["type"].to_list() == [
        "agent_reply",
        "internal_note",
        "agent_reply",
        "customer_message",
    ]
    # every ticket's description is its first customer message, by the requester's e-mail
    firsts = events.filter(type="customer_message").group_by("interaction_id").agg(pl.col("at").min())
    assert firsts.height == 6
    # the partial status history ends in each ticket's current status
    last = (
        events.filter(type="status_change").sort("at").group_by("interaction_id").agg(pl.col("status").last())
    )
    current = parsed.batch.interactions.select(pl.col("interaction_id"), pl.col("status").alias("now"))
    assert last.join(current, on="interaction_id").filter(pl.col("status") != pl.col("now")).is_empty()
    assert last.height == 6
    assert [s["time_zone"] for s in parsed.schedules] == ["Magadan"]
    single = parse_freshdesk_file(
        shared_fixtures / "freshdesk" / "python-freshdesk_ticket_1.json", config, lookups
    )
    assert single.batch.interactions["resolved_at"].to_list() == [
        datetime(2020, 7, 24, 15, 35, 21, tzinfo=UTC)
    ]
    search = parse_freshdesk_file(
        shared_fixtures / "freshdesk" / "python-freshdesk_search_tickets.json", config
    )
    assert search.batch.interactions["created_at"].to_list()[0] == datetime(
        2014, 12, 31, 2, 27, 9, tzinfo=UTC
    )


def test_intercom_epoch_seconds_to_utc(shared_fixtures: Path) -> None:
    config = IntercomFilesConfig(kind="intercom_files", name="intercom", path="x")
    path = shared_fixtures / "intercom" / "airbyte_intercom_expected_records_conversations_subset.jsonl"
    batch = parse_intercom_file(path, config).batch
    assert not batch.rejections
    _assert_canonical(batch.interactions)
    first = batch.interactions.filter(external_id="1").row(0, named=True)
    assert first["created_at"] == datetime(2020, 12, 9, 22, 34, 3, tzinfo=UTC)  # 1607553243
    assert first["first_response_at"] == datetime.fromtimestamp(1625654131, UTC)
    assert batch.events.filter(author="Operator")["type"].unique().to_list() == ["internal_note"]


def test_zammad_nulls_handled(shared_fixtures: Path) -> None:
    config = ZammadFilesConfig(kind="zammad_files", name="zammad", path="x")
    batch = parse_zammad_file(shared_fixtures / "zammad" / "zammad_py_tickets_expand.json", config).batch
    assert not batch.rejections
    [row] = batch.interactions.iter_rows(named=True)
    assert (row["status"], row["priority"], row["channel"]) == ("new", "normal", "phone")
    assert (row["team"], row["location"], row["agent"]) == ("Users", "Zammad Foundation", None)
    assert row["first_response_at"] is None and row["closed_at"] is None
