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
            interactions.append(validated.interactions)
            events.append(validated.events)
    return pl.concat(interactions), pl.concat(events)


def _helpdesk(frame: pl.DataFrame, name: str) -> pl.DataFrame:
    return frame.filter(pl.col("interaction_id").str.starts_with(f"demo-{name}:"))


def test_writes_one_file_per_helpdesk_and_chunk(written: tuple[DemoSummary, DemoSummary]) -> None:
    _, vendor = written
    chunks = -(-SIZE // CHUNK)
    assert sorted(vendor.files) == sorted(
        f"demo-{desk}/sync-{n:04d}.jsonl" for desk in ("zendesk", "freshdesk") for n in range(1, chunks + 1)
    )
    assert vendor.interactions == SIZE and vendor.formats == "vendor"


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
    # Neither helpdesk carries NPS or CES answers.
    assert joined["nps_vendor"].null_count() == joined["ces_vendor"].null_count() == SIZE


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


def test_freshdesk_transcripts(generic: Frames, parsed: Frames) -> None:
    expected, got = _helpdesk(generic[1], "freshdesk"), _helpdesk(parsed[1], "freshdesk")
    created = generic[0].select("interaction_id", "created_at")
    # The customer's first message is the ticket description, which is not a conversation.
    conversations = expected.join(created, on="interaction_id").filter(
        (pl.col("type") != "status_change")
        & (pl.col("type") != "assignment")
        & ~((pl.col("type") == "customer_message") & (pl.col("at") == pl.col("created_at")))
    )
    columns = ["interaction_id", "at", "type", "body"]
    assert set(got["type"]) == {"customer_message", "agent_reply", "internal_note"}
    assert _sorted(got, columns).equals(_sorted(conversations, columns))
    staff = got.filter(pl.col("type") != "customer_message").join(
        generic[0].select("interaction_id", "agent"), on="interaction_id"
    )
    assert (staff["author"] == staff["agent"]).all()


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
    for name in ("agents", "groups"):
        for record in json.loads((shared_fixtures / f"freshdesk/python-freshdesk_{name}.json").read_text()):
            real["freshdesk"][name] |= set(record)
    # Fields of the vendors' API references that the (older) samples happen not to contain.
    documented = {
        "ticket_metrics": {"solved_at"},  # Zendesk "Ticket Metrics" reference
        "agents": {"group_ids", "role_ids", "skill_ids", "type"},  # Freshdesk v2 "View an Agent"
    }
    for desk in ("zendesk", "freshdesk"):
        written_streams = _records(written[1].out_dir / f"demo-{desk}" / "sync-0001.jsonl")
        for stream, records in written_streams.items():
            if stream not in real[desk]:
                continue  # no sample of this stream to compare with
            extra = set(records[0]) - real[desk][stream] - documented.get(stream, set())
            assert not extra, (desk, stream, sorted(extra))
