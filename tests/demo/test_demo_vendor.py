"""The demo in its helpdesks' export formats: read back by the real parsers, it is the same organisation."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa

from connectors.registry import connector_files, parse_connector_files
from connectors.validate import validate_batch
from servicelens.config import parse_config
from servicelens.demo import DemoSummary, demo_connectors, generate_demo
from servicelens.demo.load import demo_connector_configs, load_demo
from storage.db import make_engine, upgrade
from tests.demo.conftest import DEMO_END

SIZE, SEED, CHUNK = 2_500, 5, 900
Frames = tuple[pl.DataFrame, pl.DataFrame]


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoSummary, DemoSummary]:
    root = tmp_path_factory.mktemp("vendor")
    generic = generate_demo(root / "generic", SIZE, SEED, DEMO_END, formats="generic", chunk_size=CHUNK)
    vendor = generate_demo(root / "vendor", SIZE, SEED, DEMO_END, formats="vendor", chunk_size=CHUNK)
    return generic, vendor


@pytest.fixture(scope="module")
def generic(written: tuple[DemoSummary, DemoSummary]) -> Frames:
    out = written[0].out_dir
    return pl.read_parquet(out / "interactions.parquet"), pl.read_parquet(out / "events.parquet")


@pytest.fixture(scope="module")
def parsed(written: tuple[DemoSummary, DemoSummary]) -> Frames:
    """The vendor files through the real parsers and row validation, as the load pipeline sees them."""
    interactions, events = [], []
    for config in demo_connector_configs(written[1].out_dir):
        for path, result in parse_connector_files(config, connector_files(config)):
            assert result.batch.rejections == [], (path, result.batch.rejections[:3])
            assert result.other_streams == {}, path
            validated = validate_batch(result.batch)
            assert validated.quarantine.is_empty(), (path, validated.quarantine.head(3).rows())
            # a file of audits, conversations or ratings holds no tickets, a reference file nothing at all
            if validated.interactions.height:
                interactions.append(validated.interactions)
            if validated.events.height:
                events.append(validated.events)
    return pl.concat(interactions), pl.concat(events)


def _helpdesk(frame: pl.DataFrame, name: str) -> pl.DataFrame:
    return frame.filter(pl.col("interaction_id").str.starts_with(f"demo-{name}:"))


def test_writes_the_api_files_of_each_helpdesk_per_chunk(written: tuple[DemoSummary, DemoSummary]) -> None:
    _, vendor = written
    chunks = range(1, -(-SIZE // CHUNK) + 1)
    zendesk = [f"incremental_tickets-{n:04d}-001{part}.json" for n in chunks for part in ("", "_audits")]
    zendesk += [f"satisfaction_ratings-{n:04d}.json" for n in chunks]
    freshdesk = ["agents.json", "companies.json", "groups.json"]
    freshdesk += [f"{name}-{n:04d}{part}.json" for n in chunks for name, part in
                  (("tickets", ""), ("tickets", "_conversations"), ("satisfaction_ratings", ""))]  # fmt: skip
    assert sorted(vendor.files) == sorted(
        [f"demo-zendesk/{name}" for name in zendesk] + [f"demo-freshdesk/{name}" for name in freshdesk]
    )
    assert vendor.interactions == SIZE and vendor.formats == "vendor"


def test_zendesk_pages_are_incremental_export_pages(written: tuple[DemoSummary, DemoSummary]) -> None:
    folder = written[1].out_dir / "demo-zendesk"
    page = json.loads((folder / "incremental_tickets-0001-001.json").read_text())
    assert list(page) == ["tickets", "users", "groups", "organizations", "metric_sets", "after_url",
                          "after_cursor", "before_url", "before_cursor", "end_of_stream"]  # fmt: skip
    assert page["end_of_stream"] is True and page["after_url"].endswith(page["after_cursor"])
    stamps = [t["updated_at"] for t in page["tickets"]]
    assert stamps == sorted(stamps)  # the export's order
    users = {u["id"]: u for u in page["users"]}
    for ticket in page["tickets"]:  # every user, group and organization a ticket names is sideloaded
        assert users[ticket["requester_id"]]["role"] == "end-user"
        assert users[ticket["assignee_id"]]["role"] == "agent"
    assert {t["group_id"] for t in page["tickets"]} == {g["id"] for g in page["groups"]}
    assert {t["organization_id"] for t in page["tickets"]} == {o["id"] for o in page["organizations"]}
    assert [m["ticket_id"] for m in page["metric_sets"]] == [t["id"] for t in page["tickets"]]
    audits = json.loads((folder / "incremental_tickets-0001-001_audits.json").read_text())
    assert list(audits) == ["audits", "meta", "links"]
    assert {a["ticket_id"] for a in audits["audits"]} <= {t["id"] for t in page["tickets"]}
    assert any(a["author_id"] == -1 for a in audits["audits"])  # automations close solved tickets
    ratings = json.loads((folder / "satisfaction_ratings-0001.json").read_text())
    assert {r["score"] for r in ratings["satisfaction_ratings"]} == {"good", "bad"}


def test_freshdesk_files_are_api_bodies(written: tuple[DemoSummary, DemoSummary]) -> None:
    folder = written[1].out_dir / "demo-freshdesk"
    tickets = json.loads((folder / "tickets-0001.json").read_text())
    assert isinstance(tickets, list) and {"stats", "requester", "description_text"} <= set(tickets[0])
    for name in ("tickets-0001_conversations.json", "satisfaction_ratings-0001.json", "agents.json",
                 "companies.json", "groups.json"):  # fmt: skip
        body = json.loads((folder / name).read_text())
        assert isinstance(body, list) and body and all(isinstance(item, dict) for item in body), name


def test_same_interactions_and_fields(generic: Frames, parsed: Frames) -> None:
    expected, got = generic[0], parsed[0]
    assert got.height == expected.height == SIZE
    joined = expected.join(got, on="interaction_id", how="full", suffix="_vendor", validate="1:1")
    assert joined["interaction_id_vendor"].null_count() == 0 and joined["interaction_id"].null_count() == 0
    exact = ["source", "external_id", "channel", "location", "team", "agent", "customer", "priority"]
    exact += ["subject", "created_at", "resolved_at", "closed_at", "updated_at", "reopens", "tags"]
    for column in exact:
        differ = joined.filter(pl.col(column).ne_missing(pl.col(f"{column}_vendor")))
        assert differ.is_empty(), (
            column,
            differ.select("interaction_id", column, f"{column}_vendor").head(3),
        )


def test_statuses_match_except_freshdesk_has_no_new(generic: Frames, parsed: Frames) -> None:
    joined = generic[0].join(parsed[0], on="interaction_id", suffix="_vendor")
    freshdesk = pl.col("source") == "demo-freshdesk"
    expected = pl.when(freshdesk & (pl.col("status") == "new")).then(pl.lit("open")).otherwise("status")
    assert (joined["status_vendor"] == joined.select(expected).to_series()).all()
    assert joined.filter(freshdesk & (pl.col("status") == "new")).height > 0  # the case is really exercised


def test_first_response_to_the_precision_each_vendor_keeps(generic: Frames, parsed: Frames) -> None:
    joined = generic[0].join(parsed[0], on="interaction_id", suffix="_vendor")
    assert (joined["first_response_at"].is_null() == joined["first_response_at_vendor"].is_null()).all()
    fresh = joined.filter(pl.col("source") == "demo-freshdesk")
    assert (fresh["first_response_at"] == fresh["first_response_at_vendor"]).drop_nulls().all()
    # Zendesk keeps whole calendar minutes after creation.
    zen = joined.filter(pl.col("source") == "demo-zendesk").drop_nulls("first_response_at")
    lag = (zen["first_response_at"] - zen["first_response_at_vendor"]).dt.total_seconds()
    assert lag.min() >= 0 and lag.max() < 60  # type: ignore[operator]
    assert ((zen["first_response_at_vendor"] - zen["created_at"]).dt.total_seconds() % 60 == 0).all()


def test_surveys_as_each_vendor_rates(generic: Frames, parsed: Frames) -> None:
    joined = generic[0].join(parsed[0], on="interaction_id", suffix="_vendor")
    fresh = joined.filter(pl.col("source") == "demo-freshdesk")
    assert fresh["csat"].ne_missing(fresh["csat_vendor"]).sum() == 0
    assert fresh["csat"].n_unique() >= 5  # most answers and unanswered occur
    zen = joined.filter(pl.col("source") == "demo-zendesk")
    good_bad = (
        pl.when(pl.col("csat") >= 4).then(5).when(pl.col("csat") <= 2).then(1).otherwise(None).cast(pl.Int8)
    )
    assert zen.select(good_bad.ne_missing(pl.col("csat_vendor")).sum()).item() == 0
    # NPS and CES come back exactly: Freshdesk survey questions, Zendesk ticket custom fields.
    for score in ("nps", "ces"):
        differ = joined.filter(pl.col(score).ne_missing(pl.col(f"{score}_vendor")))
        assert differ.is_empty(), differ.select("interaction_id", score, f"{score}_vendor").head(3)
        for desk in (fresh, zen):  # answered and unanswered both occur on each helpdesk
            assert 0 < desk[f"{score}_vendor"].null_count() < desk.height


def test_survey_answers_where_each_vendor_keeps_them(written: tuple[DemoSummary, DemoSummary]) -> None:
    entries = {e["name"]: e for e in demo_connectors(written[1].out_dir)}
    zendesk, freshdesk = entries["demo-zendesk"], entries["demo-freshdesk"]
    folder = written[1].out_dir
    ticket = json.loads((folder / "demo-zendesk" / "incremental_tickets-0001-001.json").read_text())[
        "tickets"
    ][0]
    assert [f["id"] for f in ticket["custom_fields"]] == [zendesk["nps_field"], zendesk["ces_field"]]
    assert ticket["fields"] == ticket["custom_fields"]
    ratings = json.loads((folder / "demo-freshdesk" / "satisfaction_ratings-0001.json").read_text())
    keys = set().union(*(r["ratings"] for r in ratings))
    assert keys == {"default_question", freshdesk["nps_question"], freshdesk["ces_question"]}


def _sorted(frame: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    return frame.select(columns).sort(columns, nulls_last=True)


def test_zendesk_history_and_transcripts(generic: Frames, parsed: Frames) -> None:
    expected, got = _helpdesk(generic[1], "zendesk"), _helpdesk(parsed[1], "zendesk")
    messages = ["customer_message", "agent_reply", "internal_note"]
    columns = ["interaction_id", "at", "type", "author", "body"]
    assert _sorted(got.filter(pl.col("type").is_in(messages)), columns).equals(
        _sorted(expected.filter(pl.col("type").is_in(messages)), columns)
    )
    columns = ["interaction_id", "at", "status"]
    status = pl.col("type") == "status_change"
    assert _sorted(got.filter(status), columns).equals(_sorted(expected.filter(status), columns))
    assigned = expected.filter(pl.col("type") == "assignment").with_columns(
        pl.col("body").str.strip_prefix("Assigned to ")
    )
    columns = ["interaction_id", "at", "body"]
    assert _sorted(got.filter(pl.col("type") == "assignment"), columns).equals(_sorted(assigned, columns))


def test_freshdesk_transcripts_and_partial_history(generic: Frames, parsed: Frames) -> None:
    expected, got = _helpdesk(generic[1], "freshdesk"), _helpdesk(parsed[1], "freshdesk")
    messages = ["customer_message", "agent_reply", "internal_note"]
    columns = ["interaction_id", "at", "type", "body"]
    # every message, the first one being the ticket's description
    assert _sorted(got.filter(pl.col("type").is_in(messages)), columns).equals(
        _sorted(expected.filter(pl.col("type").is_in(messages)), columns)
    )
    rows = generic[0].select("interaction_id", "agent", "customer", "status")
    authors = got.filter(pl.col("type").is_in(messages)).join(rows, on="interaction_id")
    staff = pl.col("type") != "customer_message"
    assert (authors.filter(staff)["author"] == authors.filter(staff)["agent"]).all()
    assert (authors.filter(~staff)["author"] == authors.filter(~staff)["customer"]).all()
    # the status history derived from `stats` is partial, but each of its changes really happened ...
    history = got.filter(type="status_change").select("interaction_id", "at", "status")
    truth = expected.filter(type="status_change").select(
        "interaction_id", "at", pl.col("status").replace("new", "open")
    )
    assert history.join(truth, on=["interaction_id", "at", "status"], how="anti").is_empty()
    assert history.height < truth.height  # (it is partial)
    # ... and it ends in the ticket's current status
    last = history.sort("at").group_by("interaction_id").agg(pl.col("status").last().alias("last"))
    current = rows.with_columns(pl.col("status").replace("new", "open")).join(last, on="interaction_id")
    assert current.height == rows.filter(pl.col("interaction_id").str.starts_with("demo-freshdesk:")).height
    assert (current["status"] == current["last"]).all()


def test_connector_entries_are_valid_config(written: tuple[DemoSummary, DemoSummary]) -> None:
    entries = demo_connectors(written[1].out_dir)
    assert [e["kind"] for e in entries] == ["freshdesk_files", "zendesk_files"]
    config = parse_config({"connectors": entries}, environ={})
    assert [c.name for c in config.connectors] == ["demo-freshdesk", "demo-zendesk"]
    assert demo_connectors(written[0].out_dir) == []  # generic files are not vendor folders


def test_load_demo_through_the_connectors(written: tuple[DemoSummary, DemoSummary], tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'demo.db'}")
    upgrade(engine)
    reports = load_demo(engine, written[1].out_dir, formats="vendor")
    assert [r.connector for r in reports] == ["demo-freshdesk", "demo-zendesk"]
    assert all(
        r.status == "succeeded" and r.counts.quarantined == 0 and r.new_quarantine == 0 for r in reports
    )
    assert sum(r.counts.inserted for r in reports) == SIZE
    with engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from interactions")).scalar() == SIZE
        assert conn.execute(sa.text("select count(*) from quarantine")).scalar() == 0
    again = load_demo(engine, written[1].out_dir, formats="vendor")
    assert sum(r.counts.inserted + r.counts.updated for r in again) == 0
    engine.dispose()


def test_same_seed_gives_identical_vendor_files(
    written: tuple[DemoSummary, DemoSummary], tmp_path: Path
) -> None:
    _, vendor = written
    again = generate_demo(tmp_path, SIZE, SEED, DEMO_END, formats="vendor", chunk_size=CHUNK)
    assert again.files == vendor.files
    for name in vendor.files:
        assert (tmp_path / name).read_bytes() == (vendor.out_dir / name).read_bytes(), name


def test_rejects_unknown_formats(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="formats must be one of"):
        generate_demo(tmp_path, 100, formats="csv")  # type: ignore[arg-type]


def _api_records(folder: Path) -> dict[str, list[dict[str, Any]]]:
    """The records of a written export folder by stream, as the parsers name the streams."""
    streams: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for path in sorted(folder.iterdir()):
        body = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(body, list):  # a Freshdesk API body: the stream is the file's endpoint
            stream = "conversations" if "_conversations" in path.stem else path.stem.split("-")[0]
            streams[stream] += body
            continue
        for key, value in body.items():
            if isinstance(value, list):
                stream = {"metric_sets": "ticket_metrics", "audits": "ticket_audits"}.get(key, key)
                streams[stream] += value
    return streams


def _records(path: Path) -> dict[str, list[dict[str, Any]]]:
    streams: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        streams[record["stream"]].append(record["data"])
    return streams


@pytest.mark.fixtures
def test_records_use_only_fields_real_exports_have(
    written: tuple[DemoSummary, DemoSummary], shared_fixtures: Path
) -> None:
    """Every field written exists in the real vendors' records of the same stream (no invented fields)."""
    real: dict[str, dict[str, set[str]]] = {"zendesk": defaultdict(set), "freshdesk": defaultdict(set)}
    for desk, sample in (
        ("zendesk", "zendesk/airbyte_d3v_expected_records_subset.jsonl"),
        ("freshdesk", "freshdesk/airbyte_freshdesk_expected_records_subset.jsonl"),
    ):
        for stream, records in _records(shared_fixtures / sample).items():
            for record in records:
                real[desk][stream] |= set(record)
    audits = json.loads((shared_fixtures / "zendesk/zenpy_betamax_ticket_audits_page100.json").read_text())
    for audit in audits["audits"]:
        real["zendesk"]["ticket_audits"] |= set(audit)
    export = json.loads(
        (shared_fixtures / "zendesk/zenpy_betamax_incremental_tickets_cursor_full.json").read_text()
    )
    real["zendesk"]["pages"] = set(export)
    for name in ("agents", "groups"):
        for record in json.loads((shared_fixtures / f"freshdesk/python-freshdesk_{name}.json").read_text()):
            real["freshdesk"][name] |= set(record)
    # Fields of the vendors' API references that the (older) samples happen not to contain.
    documented = {
        "ticket_metrics": {"solved_at"},  # Zendesk "Ticket Metrics" reference
        "agents": {"group_ids", "role_ids", "skill_ids", "type"},  # Freshdesk v2 "View an Agent"
        "tickets": {"description_text"},  # Freshdesk v2 "View a Ticket"
        # Zendesk "Incremental Exports": sideloads of the cursor-based ticket export
        "pages": {"users", "groups", "organizations", "metric_sets"},
    }
    page = json.loads((written[1].out_dir / "demo-zendesk" / "incremental_tickets-0001-001.json").read_text())
    assert not set(page) - real["zendesk"]["pages"] - documented["pages"]
    compared = 0
    for desk in ("zendesk", "freshdesk"):
        for stream, records in _api_records(written[1].out_dir / f"demo-{desk}").items():
            if stream not in real[desk]:
                continue  # no sample of this stream to compare with
            extra = set(records[0]) - real[desk][stream] - documented.get(stream, set())
            assert not extra, (desk, stream, sorted(extra))
            compared += 1
    assert compared >= 8
