"""Consecutive files load merged into large transactions, with every file remembered with its rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors import runner
from connectors.base import Batch, Rejection, split_batch
from connectors.config import ZendeskFilesConfig
from connectors.run import PreparedBatch, commit_batch
from connectors.runner import BATCH_ROWS_VARIABLE, merge_batches, run_connector
from storage import runs, tables
from tests.runtime.conftest import database_state, settle

NOW = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
PAGES = 6
TICKETS_PER_PAGE = 40


def write_pages(folder: Path, pages: int = PAGES) -> list[Path]:
    """Incremental-export pages; ticket 5 appears again, updated, on the last page."""
    folder.mkdir(exist_ok=True)
    paths = []
    for page in range(pages):
        tickets = []
        for n in range(page * TICKETS_PER_PAGE, (page + 1) * TICKETS_PER_PAGE):
            created = T0 + timedelta(minutes=n)
            tickets.append(
                {
                    "id": n,
                    "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "updated_at": (created + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "status": "open" if n % 3 else "bogus",  # every third ticket is quarantined
                    "priority": "normal",
                    "via": {"channel": "email"},
                }
            )
        if page == pages - 1:
            tickets.append({**tickets[0], "id": 5, "status": "solved", "updated_at": "2026-03-20T00:00:00Z"})
        path = folder / f"tickets-{page:03d}.json"
        path.write_text(json.dumps({"tickets": tickets, "end_of_stream": page == pages - 1}) + "\n")
        settle(path)
        paths.append(path)
    return paths


def remembered(engine: sa.Engine) -> dict[str, tuple[int, int]]:
    t = tables.ingested_files
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t.c.path, t.c.rows, t.c.run_id)).all()
    return {Path(path).name: (count, run_id) for path, count, run_id in rows}


def zendesk(folder: Path) -> ZendeskFilesConfig:
    return ZendeskFilesConfig(kind="zendesk_files", name="zd", path=str(folder))


def test_merged_run_loads_what_file_by_file_loads(
    engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "export"
    write_pages(folder)
    monkeypatch.setenv(BATCH_ROWS_VARIABLE, "1")  # one file per transaction
    one_by_one = run_connector(engine, zendesk(folder), now=NOW)
    assert one_by_one.status == "succeeded", one_by_one.message
    expected = database_state(engine)
    expected_bookmark = runs.get_bookmark(engine, "zd")
    with engine.begin() as conn:
        for table in (tables.quarantine, tables.ingested_files, tables.bookmarks, tables.interactions):
            conn.execute(table.delete())

    monkeypatch.delenv(BATCH_ROWS_VARIABLE)
    merged = run_connector(engine, zendesk(folder), now=NOW)
    assert merged.status == "succeeded", merged.message
    assert database_state(engine) == expected
    assert runs.get_bookmark(engine, "zd") == expected_bookmark == "2026-03-20T00:00:00+00:00"
    assert merged.counts.read == one_by_one.counts.read == PAGES * TICKETS_PER_PAGE + 1
    files = remembered(engine)
    assert sorted(files) == [f"tickets-{page:03d}.json" for page in range(PAGES)]
    # Each file keeps its own record count, all in the one run.
    assert {count for count, _ in files.values()} == {TICKETS_PER_PAGE, TICKETS_PER_PAGE + 1}
    assert {run_id for _, run_id in files.values()} == {merged.run_id}


def test_groups_end_at_the_row_limit_and_keep_load_order(
    engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "export"
    write_pages(folder)
    monkeypatch.setenv(BATCH_ROWS_VARIABLE, str(2 * TICKETS_PER_PAGE))
    committed: list[list[str]] = []
    original = commit_batch

    def recording(
        engine: sa.Engine, connector: str, batch: Batch | PreparedBatch, *args: object, **kwargs: object
    ) -> object:
        files = batch.batch.file_fingerprints if isinstance(batch, PreparedBatch) else batch.file_fingerprints
        committed.append([Path(path).name for path, _ in files])
        return original(engine, connector, batch, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("connectors.run.commit_batch", recording)
    report = run_connector(engine, zendesk(folder), now=NOW)
    assert report.status == "succeeded", report.message
    names = [f"tickets-{page:03d}.json" for page in range(PAGES)]
    # The first group is smaller (one page here, itself sliced: its first slice is an eighth of the limit),
    # so the database starts writing early; the last page holds one ticket more, so it no longer fits
    # beside the page before it.
    assert committed == [[], [names[0]], names[1:3], names[3:5], [names[5]]]


def test_an_unreadable_file_does_not_keep_the_others_of_its_group_out(
    engine: sa.Engine, tmp_path: Path
) -> None:
    folder = tmp_path / "export"
    paths = write_pages(folder, pages=3)
    paths[1].write_text('{"tickets": [ {"id": 1,, } ]}\n')
    settle(paths[1])
    report = run_connector(engine, zendesk(folder), now=NOW)
    assert report.status == "failed"
    assert (
        "tickets-001.json: not valid JSON: Expecting property name enclosed in double quotes at line 1"
        in (report.message or "")
    )
    assert sorted(remembered(engine)) == ["tickets-000.json", "tickets-002.json"]


def test_a_file_removed_before_its_turn_fails_alone_and_the_counts_name_every_file(
    engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "export"
    paths = write_pages(folder, pages=3)
    first = run_connector(engine, zendesk(folder), now=NOW)
    assert first.status == "succeeded" and "3 new or changed file(s), 0 unchanged skipped" in first.summary()
    # Files are hashed when their turn comes: one that vanishes after the listing fails alone.
    paths[2].write_text(paths[2].read_text().replace('"bogus"', '"open"'))
    settle(paths[2])
    hash_file = runner.sha256_of

    def vanished(path: Path) -> str:
        if path.name == paths[1].name:
            raise FileNotFoundError(2, "No such file or directory", str(path))
        return hash_file(path)

    monkeypatch.setattr(runner, "sha256_of", vanished)
    again = run_connector(engine, zendesk(folder), now=NOW + timedelta(hours=1))
    assert again.status == "failed" and "tickets-001.json" in (again.message or "")
    assert "1 new or changed file(s), 1 unchanged skipped" in again.summary()
    assert again.counts.inserted == 13  # the changed page loaded all the same: its 13 repaired tickets


def test_a_transaction_that_fails_remembers_none_of_its_files(
    engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "export"
    write_pages(folder, pages=3)
    original = runs.remember_files

    def remember_then_fail(conn: sa.Connection, *args: object, **kwargs: object) -> int:
        original(conn, *args, **kwargs)  # type: ignore[arg-type]
        raise OSError("disk full")

    monkeypatch.setattr(runs, "remember_files", remember_then_fail)
    report = run_connector(engine, zendesk(folder), now=NOW)
    assert report.status == "failed" and "disk full" in (report.message or "")
    assert remembered(engine) == {}
    assert database_state(engine)["interactions"] == []


def test_merging_keeps_rows_rejections_bookmark_and_fingerprints(tmp_path: Path) -> None:
    first = Batch(
        "zd",
        pl.DataFrame({"external_id": ["1", "2"]}),
        bookmark="2026-03-02T00:00:00+00:00",
        file_fingerprint=("a", "1"),
    )
    second = Batch(
        "zd",
        pl.DataFrame({"external_id": ["3"]}),
        pl.DataFrame({"interaction_id": ["3"]}),
        [rejection := Rejection("b", 4, None, "broken")],
        bookmark="2026-03-01T00:00:00+00:00",
        file_fingerprint=("b", "2"),
    )
    merged = merge_batches([first, second])
    assert merged.interactions["external_id"].to_list() == ["1", "2", "3"]
    assert merged.events["interaction_id"].to_list() == ["3"]
    assert merged.rejections == [rejection]
    assert merged.bookmark == "2026-03-02T00:00:00+00:00"
    assert merged.file_fingerprint == ("b", "2")
    assert merged.file_records == {("a", "1"): 2, ("b", "2"): 2}
    slices = split_batch(merged, max_rows=2)
    assert [s.file_fingerprints for s in slices] == [[], [("a", "1"), ("b", "2")]]
    assert [s.rejections for s in slices] == [[rejection], []]


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 40), st.integers(0, 40), st.integers(1, 12), st.one_of(st.none(), st.integers(1, 15)))
def test_slices_keep_every_row_in_order_with_a_smaller_first_one(
    interactions: int, events: int, max_rows: int, first_rows: int | None
) -> None:
    batch = Batch(
        "s",
        pl.DataFrame({"external_id": [str(n) for n in range(interactions)]}),
        pl.DataFrame({"interaction_id": [f"s:{n}" for n in range(events)]}),
        [rejection := Rejection("f", 1, None, "broken")],
        bookmark="2026-03-02T00:00:00+00:00",
        file_fingerprint=("f", "digest"),
    )
    slices = split_batch(batch, max_rows=max_rows, first_rows=first_rows)
    assert pl.concat([s.interactions for s in slices]).equals(batch.interactions)
    assert pl.concat([s.events for s in slices]).equals(batch.events)
    sizes = [max(s.interactions.height, s.events.height) for s in slices]
    assert sizes[0] <= min(first_rows or max_rows, max_rows) or len(slices) == 1
    assert all(size <= max_rows for size in sizes[1:])
    assert all(sizes) or len(slices) == 1
    assert [s.rejections for s in slices] == [[rejection]] + [[]] * (len(slices) - 1)
    assert [s.bookmark for s in slices][-1] == batch.bookmark
    assert [s.file_fingerprints for s in slices][-1] == [("f", "digest")]
    assert all(not s.file_fingerprints and s.bookmark is None for s in slices[:-1])


def test_only_frames_of_one_schema_merge() -> None:
    def batch(interactions: pl.DataFrame) -> Batch:
        return Batch("s", interactions, pl.DataFrame(), [])

    base = pl.DataFrame({"external_id": ["1"], "csat": [5]})
    assert runner._mergeable([batch(base)], batch(base.clone()))
    assert runner._mergeable([batch(pl.DataFrame())], batch(base))  # a file of events only merges
    assert not runner._mergeable([batch(base)], batch(base.with_columns(pl.col("csat").cast(pl.Int8))))
    assert not runner._mergeable([batch(base)], batch(base.select("csat", "external_id")))
    assert not runner._mergeable([batch(base)], batch(base.rename({"csat": "nps"})))
