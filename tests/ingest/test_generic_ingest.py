"""The generic import path end to end: files -> validation -> storage, with quarantine and idempotence."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from connectors.files import UnreadableFileError
from connectors.generic import read_batches
from connectors.run import run_batches
from servicelens.cli import app
from storage.db import make_engine, upgrade
from storage.repo import read_events, read_interactions
from storage.runs import read_quarantine, read_runs

HEADER = [
    "external_id",
    "channel",
    "location",
    "team",
    "agent",
    "customer",
    "priority",
    "status",
    "subject",
    "created_at",
    "first_response_at",
    "resolved_at",
    "closed_at",
    "updated_at",
    "reopens",
    "csat",
    "nps",
    "ces",
    "tags",
]


def good_row(i: int, **overrides: Any) -> dict[str, Any]:
    row = {
        "external_id": str(i),
        "channel": "email",
        "location": "London",
        "team": "Billing",
        "agent": "ann",
        "customer": f"c{i}",
        "priority": "high",
        "status": "solved",
        "subject": "Invoice",
        "created_at": "2026-01-05T09:00:00Z",
        "first_response_at": "2026-01-05T09:30:00+00:00",
        "resolved_at": "2026-01-05T12:00:00Z",
        "closed_at": "",
        "updated_at": "2026-01-05T12:00:00Z",
        "reopens": "0",
        "csat": "5",
        "nps": "9",
        "ces": "6",
        "tags": "vip|refund",
    }
    row.update(overrides)
    return row


def write_csv(path: Path, rows: list[dict[str, Any]], header: list[str] = HEADER) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def engine(db_url: str) -> sa.Engine:
    eng = make_engine(db_url)
    upgrade(eng)
    yield eng
    eng.dispose()


BAD_CASES = [
    ({"external_id": ""}, "external_id", "missing external id"),
    ({"created_at": "2026-01-05 09:00:00"}, "created_at", "no time zone"),
    ({"created_at": "yesterday"}, "created_at", "not a timestamp"),
    ({"resolved_at": "2026-01-04T09:00:00Z"}, "resolved_at", "resolved before created"),
    ({"csat": "6"}, "csat", "1-5"),
    ({"nps": "4.5"}, "nps", "0-10"),
    ({"ces": "0"}, "ces", "1-7"),
    ({"channel": "fax"}, "channel", "unknown channel"),
    ({"priority": "p1"}, "priority", "unknown priority"),
    ({"status": "lost"}, "status", "unknown status"),
    ({"reopens": "-1"}, "reopens", "from 0 to 2147483647"),
    ({"reopens": "3000000000"}, "reopens", "from 0 to 2147483647"),
    ({"csat": "inf"}, "csat", "1-5"),
]


@pytest.mark.parametrize(("override", "field", "reason"), BAD_CASES)
def test_each_bad_row_is_quarantined_with_file_row_field_and_reason(
    engine: sa.Engine, tmp_path: Path, override: dict[str, str], field: str, reason: str
) -> None:
    path = write_csv(tmp_path / "interactions.csv", [good_row(1), good_row(2, **override), good_row(3)])
    report = run_batches(engine, "t", read_batches(path))
    assert report.counts.inserted == 2
    assert report.counts.quarantined == 1
    q = read_quarantine(engine)
    assert q.height == 1
    rec = q.row(0, named=True)
    assert rec["file"] == str(path) and rec["row"] == 3 and rec["field"] == field
    assert reason in rec["reason"]
    assert json.loads(rec["raw"])["external_id"] == (override.get("external_id", "2") or None)


def test_second_run_changes_nothing_and_says_so(engine: sa.Engine, tmp_path: Path) -> None:
    write_csv(tmp_path / "interactions.csv", [good_row(1), good_row(2, csat="9")])
    first = run_batches(engine, "t", read_batches(tmp_path))
    second = run_batches(engine, "t", read_batches(tmp_path))
    assert (first.counts.inserted, first.counts.quarantined) == (1, 1)
    assert (second.counts.inserted, second.counts.updated, second.counts.unchanged) == (0, 0, 1)
    assert second.new_quarantine == 0 and not second.changed_anything
    assert "nothing changed" in second.summary()
    assert read_quarantine(engine).height == 1
    assert read_runs(engine)["status"].to_list() == ["succeeded", "succeeded"]


def test_formats_load_identically(engine: sa.Engine, tmp_path: Path) -> None:
    rows = [good_row(1), good_row(2, channel="chat", tags="a,b", csat="")]
    write_csv(tmp_path / "interactions.csv", rows)
    run_batches(engine, "csv", read_batches(tmp_path / "interactions.csv"))
    from_csv = read_interactions(engine).sort("interaction_id")
    (tmp_path / "nd").mkdir()
    with (tmp_path / "nd" / "interactions.ndjson").open("w") as handle:
        for row in rows:
            handle.write(json.dumps({k: (None if v == "" else v) for k, v in row.items()}) + "\n")
    report = run_batches(engine, "nd", read_batches(tmp_path / "nd"))
    assert report.counts.unchanged == 2 and report.counts.inserted == 0
    from_csv.write_parquet(tmp_path / "interactions.parquet")
    report = run_batches(engine, "pq", read_batches(tmp_path / "interactions.parquet"))
    assert report.counts.unchanged == 2
    assert from_csv["tags"].to_list() == [["vip", "refund"], ["a", "b"]]


def test_events_load_and_orphans_are_quarantined(engine: sa.Engine, tmp_path: Path) -> None:
    write_csv(tmp_path / "interactions.csv", [good_row(1)])
    header = ["interaction_id", "at", "type", "status", "author", "body"]
    write_csv(
        tmp_path / "events.csv",
        [
            {
                "interaction_id": "generic:1",
                "at": "2026-01-05T09:00:00Z",
                "type": "customer_message",
                "status": "",
                "author": "c1",
                "body": "Hello, <b>help</b>",
            },
            {
                "interaction_id": "generic:1",
                "at": "2026-01-05T12:00:00Z",
                "type": "status_change",
                "status": "solved",
                "author": "ann",
                "body": "",
            },
            {
                "interaction_id": "generic:99",
                "at": "2026-01-05T12:00:00Z",
                "type": "agent_reply",
                "status": "",
                "author": "ann",
                "body": "hi",
            },
            {
                "interaction_id": "generic:1",
                "at": "2026-01-05T12:00:00Z",
                "type": "status_change",
                "status": "",
                "author": "ann",
                "body": "",
            },
        ],
        header,
    )
    report = run_batches(engine, "t", read_batches(tmp_path))
    assert report.counts.events_inserted == 2
    assert read_events(engine)["body"].to_list()[0] == "Hello, <b>help</b>"
    q = read_quarantine(engine).sort("row")
    assert q.select("row", "field").rows() == [(4, "interaction_id"), (5, "status")]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "interactions.csv",
            "external_id,created_at,colour\n1,2026-01-01T00:00:00Z,red\n",
            "unknown column(s) colour",
        ),
        ("interactions.csv", "channel\nemail\n", "missing required column(s) external_id, created_at"),
        ("interactions.parquet", "not parquet at all", "cannot read parquet"),
        ("notes.txt", "hello", "not a generic import file"),
    ],
)
def test_unreadable_file_fails_the_run_and_changes_nothing(
    engine: sa.Engine, tmp_path: Path, name: str, content: str, message: str
) -> None:
    write_csv(tmp_path / "interactions_a.csv", [good_row(1)])
    (tmp_path / name).write_text(content)
    target = tmp_path if name != "notes.txt" else tmp_path / name
    with pytest.raises(UnreadableFileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_batches(target)
    assert read_interactions(engine).height == 0


def test_bad_ndjson_line_is_quarantined(engine: sa.Engine, tmp_path: Path) -> None:
    path = tmp_path / "interactions.ndjson"
    path.write_text(json.dumps(good_row(1)) + "\n{not json\n" + json.dumps(good_row(2)) + "\n")
    report = run_batches(engine, "t", read_batches(path))
    assert report.counts.inserted == 2 and report.counts.quarantined == 1
    assert read_quarantine(engine).select("row").item() == 2


def test_cli_ingest_prints_counts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICELENS_DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite'}")
    write_csv(tmp_path / "interactions.csv", [good_row(1), good_row(2, priority="p9")])
    runner = CliRunner()
    first = runner.invoke(app, ["ingest", str(tmp_path / "interactions.csv")])
    assert first.exit_code == 0, first.output
    assert "read 2, inserted 1, updated 0, unchanged 0, quarantined 1" in first.output
    second = runner.invoke(app, ["ingest", str(tmp_path / "interactions.csv")])
    assert "nothing changed" in second.output
    bad = runner.invoke(app, ["ingest", str(tmp_path / "missing")])
    assert bad.exit_code == 1 and "no such file or folder" in bad.output
    listing = runner.invoke(app, ["quarantine"])
    assert "row 3: priority: unknown priority" in listing.output


# --- properties ---------------------------------------------------------------------------------------------

ts = st.datetimes(
    min_value=__import__("datetime").datetime(2025, 1, 1),
    max_value=__import__("datetime").datetime(2026, 12, 31),
).map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ"))
row_strategy = st.fixed_dictionaries(
    {
        "external_id": st.sampled_from(["1", "2", "3", "4", "5", ""]),
        "channel": st.sampled_from(["email", "chat", "phone", "fax"]),
        "priority": st.sampled_from(["urgent", "high", "normal", "low"]),
        "created_at": st.one_of(ts, st.just("2026-01-01 10:00:00")),
        "updated_at": ts,
        "csat": st.sampled_from(["", "1", "3", "5", "7"]),
        "subject": st.text(alphabet='abc ,"\n', max_size=6),
    }
)


def _ingest(tmp: Path, rows: list[dict[str, Any]]) -> tuple[pl.DataFrame, pl.DataFrame, Any, Any]:
    header = list(rows[0])
    path = write_csv(tmp / "interactions.csv", rows, header)
    engine = make_engine(f"sqlite:///{tmp / 'db.sqlite'}")
    upgrade(engine)
    first = run_batches(engine, "p", read_batches(path))
    second = run_batches(engine, "p", read_batches(path))
    state = read_interactions(engine).sort("interaction_id")
    quarantine = read_quarantine(engine)
    engine.dispose()
    return state, quarantine, first, second


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(row_strategy, min_size=1, max_size=12), seed=st.integers(0, 10**6))
def test_ingest_is_idempotent_order_independent_and_loses_nothing(
    tmp_path_factory: pytest.TempPathFactory, rows: list[dict[str, Any]], seed: int
) -> None:
    state, quarantine, first, second = _ingest(tmp_path_factory.mktemp("a"), rows)
    shuffled = rows[:]
    random.Random(seed).shuffle(shuffled)
    state2, quarantine2, _, _ = _ingest(tmp_path_factory.mktemp("b"), shuffled)

    assert not second.changed_anything
    assert state.to_dicts() == state2.to_dicts()
    assert quarantine.height == quarantine2.height

    # Every input row is either stored (its id is present) or quarantined (its spreadsheet row is listed).
    stored_ids = set(state["external_id"].to_list())
    quarantined_rows = set(quarantine["row"].to_list())
    for index, row in enumerate(rows, start=2):
        assert row["external_id"] in stored_ids or index in quarantined_rows
    assert first.counts.read == len(rows)
    assert (
        first.counts.inserted + first.counts.updated + first.counts.unchanged + first.counts.quarantined
        >= len(stored_ids)
    )


def test_large_files_load_in_slices_with_the_same_result(
    engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import connectors.base

    rows = [good_row(i, customer=f"c{i % 4}") for i in range(1, 12)] + [good_row(99, csat="9")]
    write_csv(tmp_path / "interactions.csv", rows)
    header = ["interaction_id", "at", "type", "status", "author", "body"]
    events = [
        {
            "interaction_id": f"generic:{i}",
            "at": "2026-01-05T09:00:00Z",
            "type": "customer_message",
            "status": "",
            "author": f"c{i}",
            "body": f"message {i}",
        }
        for i in range(1, 12)
    ]
    write_csv(tmp_path / "events.csv", events, header)
    monkeypatch.setattr(connectors.base, "MAX_BATCH_ROWS", 5)
    batches = read_batches(tmp_path)
    assert len(batches) == 3 + 3  # 12 interaction rows and 11 events, 5 a slice
    assert [b.file_fingerprint is not None for b in batches] == [False, False, True, False, False, True]
    report = run_batches(engine, "t", batches)
    assert (report.counts.read, report.counts.inserted, report.counts.quarantined) == (12, 11, 1)
    assert report.counts.events_inserted == 11
    assert read_quarantine(engine).select("row").item() == 13
