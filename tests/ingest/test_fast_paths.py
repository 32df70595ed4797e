"""The fast paths of ingest give the same answers as the general ones: column building, value maps,
timestamp parsing, and the colon rule that keeps interaction ids unique."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.generic import read_batches
from connectors.parsing import BatchBuilder, RecordError, map_value
from connectors.run import run_batches
from connectors.validate import validate_interactions
from storage.db import make_engine, upgrade
from storage.repo import read_interactions
from storage.runs import read_quarantine


def _builder_row(**values: object) -> dict[str, object]:
    base: dict[str, object] = {
        "external_id": 1,
        "channel": "email",
        "priority": "normal",
        "created_at": datetime(2026, 1, 5, 9, tzinfo=UTC),
        "updated_at": datetime(2026, 1, 5, 10, tzinfo=UTC),
        "tags": ["a", "b"],
    }
    base.update(values)
    return base


def test_builder_converts_aware_datetimes_of_any_offset_to_utc() -> None:
    builder = BatchBuilder("zd", "page.json")
    plus_two = timezone(timedelta(hours=2))
    builder.add_interaction(
        1, _builder_row(created_at=datetime(2026, 1, 5, 11, 30, 0, 123456, tzinfo=plus_two))
    )
    builder.add_interaction(2, _builder_row(external_id=2, closed_at=None))
    frame = builder.build().interactions
    assert frame["created_at"].to_list()[0] == datetime(2026, 1, 5, 9, 30, 0, 123456, tzinfo=UTC)
    assert frame["closed_at"].to_list() == [None, None]
    assert frame["_replication_key"].to_list()[1] == datetime(2026, 1, 5, 10, tzinfo=UTC)
    assert frame["interaction_id"].to_list() == ["zd:1", "zd:2"]


def test_builder_falls_back_to_polars_for_text_timestamps() -> None:
    builder = BatchBuilder("zd", "page.json")
    builder.add_interaction(1, _builder_row(created_at="2026-01-05T09:00:00Z"))
    assert builder.build().interactions["created_at"].to_list() == [datetime(2026, 1, 5, 9, tzinfo=UTC)]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(st.none(), st.lists(st.text(max_size=5), max_size=3)), min_size=1, max_size=8))
def test_builder_tags_match_the_plain_conversion(tags: list[list[str] | None]) -> None:
    builder = BatchBuilder("zd", "page.json")
    for row, value in enumerate(tags, start=1):
        builder.add_interaction(row, _builder_row(external_id=row, tags=value))
    built = builder.build().interactions["tags"].to_list()
    assert built == [value or [] for value in tags]


def test_map_value_overrides_win_and_changes_to_a_map_are_seen() -> None:
    builtin = {"Open": "open", "hold": "on_hold"}
    overrides: dict[str, str] = {}
    assert map_value(" OPEN ", "status", builtin, overrides) == "open"
    overrides["open"] = "pending"
    assert map_value("open", "status", builtin, overrides) == "pending"
    assert map_value("fax", "via", builtin, overrides, fallback="other") == "other"
    try:
        map_value("lost", "status", builtin, overrides)
    except RecordError as exc:
        assert exc.field == "status" and "lost" in exc.reason
    else:
        raise AssertionError("an unknown value must raise")


def _frame(values: list[str | None]) -> pl.DataFrame:
    n = len(values)
    return pl.DataFrame(
        {
            "external_id": [str(i) for i in range(n)],
            "created_at": ["2026-01-05T08:00:00Z"] * n,
            "updated_at": values,
            "_file": ["f.csv"] * n,
            "_row": list(range(2, n + 2)),
        }
    )


def test_timestamps_outside_the_plain_utc_form_still_parse_or_are_quarantined() -> None:
    values = [
        "2026-01-05T09:00:00Z",
        "2026-01-05 09:00:00.5z",
        "2026-01-05T11:00:00+02:00",
        "2026-01-05T09:00:00",
        "soon",
        None,
    ]
    valid, problems = validate_interactions(_frame(values), "s")
    updated = dict(zip(valid["external_id"].to_list(), valid["updated_at"].to_list(), strict=True))
    assert updated["0"] == datetime(2026, 1, 5, 9, tzinfo=UTC)
    assert updated["1"] == datetime(2026, 1, 5, 9, 0, 0, 500000, tzinfo=UTC)
    assert updated["2"] == datetime(2026, 1, 5, 9, tzinfo=UTC)
    assert updated["5"] == datetime(2026, 1, 5, 8, tzinfo=UTC)  # falls back to the latest timestamp
    reasons = {row["row"]: row["reason"] for row in problems.iter_rows(named=True)}
    assert "no time zone" in reasons[5] and "not a timestamp" in reasons[6]
    assert json.loads(problems.filter(pl.col("row") == 6)["raw"].item())["updated_at"] == "soon"


def test_a_source_with_a_colon_is_quarantined(tmp_path: Path) -> None:
    path = tmp_path / "interactions.csv"
    path.write_text(
        "source,external_id,created_at\n"
        "a:b,c,2026-01-05T09:00:00Z\n"  # would collide with source a, external id b:c
        "a,b:c,2026-01-05T09:00:00Z\n"
    )
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(engine)
    report = run_batches(engine, "t", read_batches(path))
    assert (report.counts.inserted, report.counts.quarantined) == (1, 1)
    rejected = read_quarantine(engine).row(0, named=True)
    assert (rejected["row"], rejected["field"]) == (2, "source") and "':'" in rejected["reason"]
    assert read_interactions(engine)["interaction_id"].to_list() == ["a:b:c"]
    with engine.connect() as conn:
        assert conn.execute(sa.text("select source from interactions")).scalar() == "a"
    engine.dispose()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.none(),
            st.sampled_from(["", " ", "4", " 7 ", "3.0", "2.5", "x", "-1", "11", "1e0", "+5"]),
            st.integers(-3, 12).map(str),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_survey_scores_as_text_validate_alike_on_the_digits_only_path(scores: list[str | None]) -> None:
    """A column of plain digits skips the float parse; the answer must be what the float parse gives."""
    rows = [
        {"external_id": str(i), "created_at": "2026-01-05T09:00:00Z", "csat": score}
        for i, score in enumerate(scores)
    ]
    raw = pl.DataFrame(rows, schema={"external_id": pl.String, "created_at": pl.String, "csat": pl.String})
    valid, problems = validate_interactions(raw, "shop")
    for i, text in enumerate(scores):
        stripped = (text or "").strip()
        try:
            number = float(stripped) if stripped else None
        except ValueError:
            number = float("nan")
        ok = number is None or (number == number and number.is_integer() and 1 <= number <= 5)
        row_problems = problems.filter((pl.col("row") == i + 1) & (pl.col("field") == "csat"))
        assert (row_problems.height == 0) == ok, (text, row_problems)
        if ok:
            stored = valid.filter(pl.col("external_id") == str(i))["csat"].item()
            assert stored == (None if number is None else int(number))
