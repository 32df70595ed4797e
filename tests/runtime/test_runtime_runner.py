"""Running one configured connector: new files only, safe order, waiting events, bookmarks, run records."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa

from connectors.base import Batch
from connectors.config import FreshdeskApiConfig, GenericFilesConfig, ZendeskFilesConfig
from connectors.registry import parse_connector_files
from connectors.run import DEFERRED_EVENT, later_bookmark
from connectors.runner import list_files, load_order, run_connector
from storage import runs, tables
from storage.repo import read_events, read_interactions
from storage.runs import read_quarantine, read_runs
from tests.runtime.conftest import (
    EVENT_HEADER,
    INTERACTION_HEADER,
    T0,
    event_row,
    interaction_row,
    settle,
    write_csv,
)

NOW = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def shop(folder: Path, **options: Any) -> GenericFilesConfig:
    return GenericFilesConfig(kind="generic_files", name="shop", path=str(folder), **options)


def test_loads_new_files_once_and_records_each_run(engine: sa.Engine, tmp_path: Path) -> None:
    write_csv(
        tmp_path / "interactions_1.csv", [interaction_row(i, minutes=5) for i in range(3)], INTERACTION_HEADER
    )
    write_csv(tmp_path / "events_1.csv", [event_row(i) for i in range(3)], EVENT_HEADER)
    first = run_connector(engine, shop(tmp_path), now=NOW)
    assert first.status == "succeeded", first.message
    assert (first.counts.read, first.counts.inserted, first.counts.events_inserted) == (3, 3, 3)
    assert "2 new or changed file(s), 0 unchanged skipped" in first.summary()
    assert runs.get_bookmark(engine, "shop") == (T0 + timedelta(minutes=2 + 5)).isoformat()

    second = run_connector(engine, shop(tmp_path), now=NOW + timedelta(minutes=15))
    assert second.counts.read == 0 and not second.changed_anything
    assert "0 new or changed file(s), 2 unchanged skipped" in second.summary()

    write_csv(tmp_path / "interactions_2.csv", [interaction_row(7, minutes=90)], INTERACTION_HEADER)
    third = run_connector(engine, shop(tmp_path), now=NOW + timedelta(minutes=30))
    assert (third.counts.read, third.counts.inserted) == (1, 1)
    assert runs.get_bookmark(engine, "shop") == (T0 + timedelta(minutes=7 + 90)).isoformat()

    table = read_runs(engine, "shop").sort("run_id")
    assert table["status"].to_list() == ["succeeded"] * 3
    assert table["read"].to_list() == [3, 0, 1]
    assert table["inserted"].to_list() == [3, 0, 1]
    assert table["started_at"].to_list() == [NOW, NOW + timedelta(minutes=15), NOW + timedelta(minutes=30)]
    assert table["finished_at"].null_count() == 0 and table["message"].null_count() == 3


def test_changed_file_is_read_again_and_only_newer_rows_change(engine: sa.Engine, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "interactions.csv", [interaction_row(i) for i in range(4)], INTERACTION_HEADER
    )
    run_connector(engine, shop(tmp_path), now=NOW)
    rows = [interaction_row(i) for i in range(4)]
    rows[2] = interaction_row(2, minutes=60, status="solved", csat="5")
    write_csv(path, rows, INTERACTION_HEADER)
    report = run_connector(engine, shop(tmp_path), now=NOW + timedelta(hours=1))
    assert (report.counts.inserted, report.counts.updated, report.counts.unchanged) == (0, 1, 3)
    stored = read_interactions(engine).filter(pl.col("external_id") == "2").row(0, named=True)
    assert (stored["status"], stored["csat"]) == ("solved", 5)
    # A bookmark never moves back, even when a file with older rows arrives later.
    write_csv(tmp_path / "interactions_old.csv", [interaction_row(50, minutes=-3000)], INTERACTION_HEADER)
    run_connector(engine, shop(tmp_path), now=NOW + timedelta(hours=2))
    assert runs.get_bookmark(engine, "shop") == (T0 + timedelta(minutes=2 + 60)).isoformat()


def test_event_that_arrives_before_its_interaction_waits_then_loads(
    engine: sa.Engine, tmp_path: Path
) -> None:
    write_csv(tmp_path / "interactions_1.csv", [interaction_row(1)], INTERACTION_HEADER)
    write_csv(
        tmp_path / "events_1.csv",
        [event_row(1), event_row(5), event_row(5, kind="agent_reply")],
        EVENT_HEADER,
    )
    first = run_connector(engine, shop(tmp_path), now=NOW)
    assert first.status == "succeeded" and first.counts.events_inserted == 1
    waiting = read_quarantine(engine)
    assert waiting["record_kind"].to_list() == [DEFERRED_EVENT, DEFERRED_EVENT]
    assert waiting["field"].unique().to_list() == ["interaction_id"]
    assert "retried on every run" in waiting["reason"][0]
    assert json.loads(waiting["raw"][0])["interaction_id"] == "shop:5"

    write_csv(tmp_path / "interactions_2.csv", [interaction_row(5)], INTERACTION_HEADER)
    second = run_connector(engine, shop(tmp_path), now=NOW + timedelta(minutes=10))
    assert second.deferred_loaded == 2 and second.counts.events_inserted == 2
    assert "2 waited for their interaction" in second.summary()
    assert read_quarantine(engine).is_empty()
    events = read_events(engine).filter(pl.col("interaction_id") == "shop:5").sort("type")
    assert events.select("type", "author", "body").rows() == [
        ("agent_reply", "c5", "hello 5"),
        ("customer_message", "c5", "hello 5"),
    ]
    assert events["at"].to_list() == [T0 + timedelta(minutes=5, seconds=30)] * 2


def test_vendor_files_load_tickets_before_audits_and_later_audits_wait(
    engine: sa.Engine, tmp_path: Path
) -> None:
    config = ZendeskFilesConfig(kind="zendesk_files", name="zendesk", path=str(tmp_path))
    audits = tmp_path / "a_ticket_audits.jsonl"
    audit = {
        "id": 1,
        "ticket_id": 10,
        "created_at": "2025-01-07T09:00:00Z",
        "author_id": 9001,
        "events": [{"type": "Change", "field_name": "status", "value": "solved"}],
    }
    audits.write_text(json.dumps({"stream": "ticket_audits", "data": audit}) + "\n")
    settle(audits)
    shutil.copy(SAMPLES / "zendesk_export.jsonl", tmp_path / "z_export.jsonl")
    settle(tmp_path / "z_export.jsonl")
    assert [p.name for p in list_files(config)] == ["z_export.jsonl", "a_ticket_audits.jsonl"]
    report = run_connector(engine, config, now=NOW)
    assert report.status == "succeeded", report.message
    assert read_quarantine(engine).filter(pl.col("record_kind") == DEFERRED_EVENT).is_empty()
    solved = read_events(engine).filter(
        (pl.col("interaction_id") == "zendesk:10") & (pl.col("at") == datetime(2025, 1, 7, 9, tzinfo=UTC))
    )
    assert solved.select("type", "status").rows() == [("status_change", "solved")]

    # An audit file whose ticket is not exported yet waits for it, then loads with no duplicate.
    late = tmp_path / "b_ticket_audits.jsonl"
    audit_late = {**audit, "ticket_id": 990, "created_at": "2025-02-01T10:00:00Z"}
    late.write_text(json.dumps({"stream": "ticket_audits", "data": audit_late}) + "\n")
    settle(late)
    run_connector(engine, config, now=NOW + timedelta(minutes=5))
    assert read_quarantine(engine).filter(pl.col("record_kind") == DEFERRED_EVENT).height == 1
    ticket = {
        "id": 990,
        "via": {"channel": "web"},
        "created_at": "2025-02-01T09:00:00Z",
        "updated_at": "2025-02-01T10:00:00Z",
        "status": "solved",
        "priority": "low",
    }
    tickets = tmp_path / "tickets_990.jsonl"
    tickets.write_text(json.dumps({"stream": "tickets", "data": ticket}) + "\n")
    settle(tickets)
    report = run_connector(engine, config, now=NOW + timedelta(minutes=10))
    assert report.deferred_loaded == 1
    assert read_events(engine).filter(pl.col("interaction_id") == "zendesk:990").height == 1
    assert read_quarantine(engine).filter(pl.col("record_kind") == DEFERRED_EVENT).is_empty()


def test_vendor_run_matches_the_parsed_files(engine: sa.Engine, tmp_path: Path) -> None:
    for name in ("zendesk_export.jsonl", "zendesk_audits.json"):
        shutil.copy(SAMPLES / name, tmp_path / name)
        settle(tmp_path / name)
    config = ZendeskFilesConfig(kind="zendesk_files", name="zendesk", path=str(tmp_path))
    parsed = [p.batch for _, p in parse_connector_files(config, list_files(config))]
    report = run_connector(engine, config, now=NOW)
    assert report.status == "succeeded", report.message
    assert report.counts.read == sum(b.record_count for b in parsed)
    expected_ids = set().union(*(set(b.interactions["interaction_id"].to_list()) for b in parsed))
    assert set(read_interactions(engine)["interaction_id"].to_list()) == expected_ids
    latest = max(b.interactions["updated_at"].max() for b in parsed if b.interactions.height)  # type: ignore[type-var]
    assert runs.get_bookmark(engine, "zendesk") == latest.isoformat()
    again = run_connector(engine, config, now=NOW + timedelta(minutes=1))
    assert again.counts.read == 0 and not again.changed_anything


def test_file_still_being_written_waits_and_a_partial_line_is_never_half_loaded(
    engine: sa.Engine, tmp_path: Path
) -> None:
    path = tmp_path / "interactions.ndjson"
    complete = [json.dumps(interaction_row(i)) for i in range(3)]
    path.write_text("\n".join(complete) + "\n" + json.dumps(interaction_row(3))[:40])
    now = datetime.now(UTC)  # the file was just modified
    first = run_connector(engine, shop(tmp_path), now=now, settle_seconds=60)
    assert first.counts.read == 0 and read_interactions(engine).is_empty()
    assert "1 still being written, left for the next run (interactions.ndjson)" in first.summary()

    with path.open("a") as handle:  # the writer finishes the line
        handle.write(json.dumps(interaction_row(3))[40:] + "\n")
    second = run_connector(engine, shop(tmp_path), now=datetime.now(UTC), settle_seconds=60)
    assert second.counts.inserted == 4 and read_quarantine(engine).is_empty()

    # A writer that died mid-line: once settled the file is read, and the broken line is quarantined whole.
    broken = tmp_path / "interactions_b.ndjson"
    broken.write_text(json.dumps(interaction_row(8)) + "\n" + json.dumps(interaction_row(9))[:30])
    settle(broken)
    third = run_connector(engine, shop(tmp_path), now=datetime.now(UTC), settle_seconds=60)
    assert (third.counts.inserted, third.counts.quarantined) == (1, 1)
    assert "9" not in read_interactions(engine)["external_id"].to_list()
    assert read_quarantine(engine).select("row", "record_kind").rows() == [(2, "record")]


def test_unreadable_file_fails_the_run_but_the_others_load(engine: sa.Engine, tmp_path: Path) -> None:
    write_csv(tmp_path / "interactions_a.csv", [interaction_row(1)], INTERACTION_HEADER)
    bad = tmp_path / "interactions_b.csv"
    bad.write_text("external_id,created_at,colour\n2,2026-03-02T09:00:00Z,red\n")
    settle(bad)
    write_csv(tmp_path / "interactions_c.csv", [interaction_row(3)], INTERACTION_HEADER)
    report = run_connector(engine, shop(tmp_path), now=NOW)
    assert report.status == "failed"
    assert report.message is not None and "interactions_b.csv" in report.message
    assert "unknown column(s) colour" in report.message
    assert sorted(read_interactions(engine)["external_id"].to_list()) == ["1", "3"]
    recorded = read_runs(engine, "shop").row(0, named=True)
    assert (recorded["status"], recorded["inserted"]) == ("failed", 2)
    assert "interactions_b.csv" in recorded["message"]

    bad.write_text("external_id,created_at\n2,2026-03-02T09:00:00Z\n")
    settle(bad)
    fixed = run_connector(engine, shop(tmp_path), now=NOW + timedelta(minutes=5))
    assert fixed.status == "succeeded" and fixed.counts.inserted == 1


def test_missing_folder_is_a_recorded_failure(engine: sa.Engine, tmp_path: Path) -> None:
    report = run_connector(engine, shop(tmp_path / "nowhere"), now=NOW)
    assert report.status == "failed" and "no such folder" in (report.message or "")
    assert read_runs(engine, "shop")["status"].to_list() == ["failed"]


def test_run_left_running_by_a_killed_process_is_closed(engine: sa.Engine, tmp_path: Path) -> None:
    stale_id = runs.start_run(engine, "shop", NOW - timedelta(hours=1))
    write_csv(tmp_path / "interactions.csv", [interaction_row(1)], INTERACTION_HEADER)
    run_connector(engine, shop(tmp_path), now=NOW)
    table = read_runs(engine, "shop").sort("run_id")
    assert table["run_id"][0] == stale_id
    assert table["status"].to_list() == ["failed", "succeeded"]
    assert table["message"][0] == runs.INTERRUPTED_MESSAGE


def _api_config() -> FreshdeskApiConfig:
    return FreshdeskApiConfig(
        kind="freshdesk_api", name="fd", base_url="https://acme.freshdesk.com", token_env="FD_TOKEN"
    )


def _page(ids: range, bookmark: str) -> Batch:
    rows = [{**interaction_row(i), "_file": "GET /api/v2/tickets", "_row": n} for n, i in enumerate(ids, 1)]
    return Batch("fd", pl.DataFrame(rows), bookmark=bookmark)


def test_api_source_failing_mid_run_keeps_committed_pages(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    import connectors.api

    seen: list[str | None] = []

    def failing_pull(
        connector: Any, bookmark: str | None, *, now: datetime, client: Any = None
    ) -> Iterator[Batch]:
        seen.append(bookmark)
        yield _page(range(0, 3), "2026-03-02T09:02:00Z")
        yield _page(range(3, 6), "2026-03-02T09:05:00Z")
        raise RuntimeError("GET /api/v2/tickets page 3: 503 Service Unavailable after 5 attempts")

    monkeypatch.setattr(connectors.api, "api_batches", failing_pull)
    report = run_connector(engine, _api_config(), now=NOW)
    assert report.status == "failed" and "503 Service Unavailable" in (report.message or "")
    assert read_interactions(engine).height == 6
    assert runs.get_bookmark(engine, "fd") == "2026-03-02T09:05:00Z"
    recorded = read_runs(engine, "fd").row(0, named=True)
    assert (recorded["status"], recorded["inserted"]) == ("failed", 6)
    assert "503" in recorded["message"]

    run_connector(engine, _api_config(), now=NOW + timedelta(minutes=5))
    assert seen == [None, "2026-03-02T09:05:00Z"]  # the next run continues from the committed page


def test_bookmark_only_moves_forward() -> None:
    assert later_bookmark(None, "2026-01-01T00:00:00Z") == "2026-01-01T00:00:00Z"
    assert later_bookmark("2026-01-02T00:00:00+00:00", "2026-01-01T00:00:00Z") == "2026-01-02T00:00:00+00:00"
    assert later_bookmark("2026-01-01T00:00:00Z", "2026-01-01T00:00:01+00:00") == "2026-01-01T00:00:01+00:00"
    assert later_bookmark("cursor-a", "cursor-b") == "cursor-b"  # opaque cursors: the newest wins
    assert later_bookmark("2026-01-01T00:00:00Z", None) == "2026-01-01T00:00:00Z"


def test_load_order_puts_tickets_first() -> None:
    names = [
        "ticket_audits.json",
        "tickets.json",
        "conversation_parts.jsonl",
        "conversations.jsonl",
        "groups.json",
    ]
    assert [n for n in sorted(names, key=lambda n: load_order(Path(n)))] == [
        "conversations.jsonl",
        "groups.json",
        "tickets.json",
        "conversation_parts.jsonl",
        "ticket_audits.json",
    ]


def test_every_ingested_file_is_remembered_with_its_content_hash(engine: sa.Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "interactions.csv", [interaction_row(1)], INTERACTION_HEADER)
    run_connector(engine, shop(tmp_path), now=NOW)
    with engine.connect() as conn:
        stored = conn.execute(sa.select(tables.ingested_files.c.path, tables.ingested_files.c.rows)).all()
    assert [tuple(r) for r in stored] == [(str(path.resolve()), 1)]
