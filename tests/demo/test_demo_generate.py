"""The demo files: determinism, canonical schema, structure and the consistency of events and fields."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays
import polars as pl
import pytest

from servicelens.demo import LOCATION_CALENDARS, LOCATIONS, DemoSummary, generate_demo
from servicelens.model import EVENT_SCHEMA, INTERACTION_SCHEMA, Channel, EventType, Priority, Status
from tests.demo.conftest import DEMO_END, DEMO_SIZE

Frames = tuple[pl.DataFrame, pl.DataFrame]


def test_same_seed_gives_identical_files_and_another_seed_does_not(tmp_path: Path) -> None:
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        generate_demo(tmp_path / name, interactions=2_000, seed=seed, end=DEMO_END)
    for file in ("interactions.parquet", "events.parquet"):
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes()
        assert (tmp_path / "a" / file).read_bytes() != (tmp_path / "c" / file).read_bytes()


def test_rejects_an_empty_organisation(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="interactions must be at least 1"):
        generate_demo(tmp_path, interactions=0)


def test_summary_describes_the_files(demo_dir: tuple[Path, DemoSummary], demo: Frames) -> None:
    out, summary = demo_dir
    interactions, events = demo
    assert summary.interactions == interactions.height == DEMO_SIZE
    assert summary.events == events.height
    assert summary.files == {p.name: p.stat().st_size for p in out.iterdir()}
    assert summary.cutoff.date() == DEMO_END


def test_files_have_the_canonical_schema(demo: Frames) -> None:
    interactions, events = demo
    assert interactions.schema == pl.Schema(INTERACTION_SCHEMA)
    assert events.schema == pl.Schema(EVENT_SCHEMA)
    assert interactions["interaction_id"].is_unique().all()
    assert (
        interactions["interaction_id"] == interactions["source"] + ":" + interactions["external_id"]
    ).all()
    assert interactions["source"].str.starts_with("demo-").all()
    assert set(interactions["status"]) <= {s.value for s in Status}
    assert set(events["type"]) <= {t.value for t in EventType}
    assert set(events["status"].drop_nulls()) <= {s.value for s in Status}
    assert set(events["interaction_id"]) == set(interactions["interaction_id"])
    for column in ("created_at", "updated_at", "external_id", "customer", "agent", "location", "team"):
        assert interactions[column].null_count() == 0, column


def test_structure_meets_the_minimums(demo: Frames) -> None:
    interactions, _ = demo
    locations = set(interactions["location"])
    assert len(locations) >= 12
    assert len({LOCATION_CALENDARS[loc]["timezone"] for loc in locations}) >= 4
    assert interactions["team"].n_unique() == 15
    assert interactions["agent"].n_unique() == 150
    per_agent = interactions.group_by("agent").agg(pl.col("team").n_unique(), pl.col("location").n_unique())
    assert (per_agent["team"] == 1).all() and (per_agent["location"] == 1).all()
    assert (
        set(interactions["channel"])
        == {"email", "chat", "phone", "web", "social"}
        <= {c.value for c in Channel}
    )
    assert set(interactions["priority"]) == {p.value for p in Priority}
    share = interactions["priority"].value_counts(normalize=True).rows_by_key("priority")
    assert share["urgent"][0] < share["high"][0] < share["normal"][0]
    created = interactions["created_at"]
    first, last = created.min(), created.max()
    assert last - first >= timedelta(days=365)  # type: ignore[operator]
    assert created.dt.strftime("%Y-%m").n_unique() >= 13


def test_everything_happens_before_the_end(demo: Frames) -> None:
    interactions, events = demo
    cutoff = pl.lit(DEMO_END).cast(pl.Datetime("us", "UTC"))
    assert events.filter(pl.col("at") >= cutoff).height == 0
    assert interactions.filter(pl.col("updated_at") >= cutoff).height == 0
    # The last week reaches the end date: the dashboard looks current.
    assert interactions.filter(pl.col("created_at") >= cutoff - pl.duration(days=1)).height > 0


def test_calls_and_chats_arrive_in_local_opening_hours_on_open_days(demo: Frames) -> None:
    interactions, _ = demo
    live = interactions.filter(pl.col("channel").is_in(["phone", "chat"]))
    for loc in LOCATIONS:
        rows = live.filter(pl.col("location") == loc.name)
        local = rows["created_at"].dt.convert_time_zone(loc.timezone)
        hours = (local.dt.hour().cast(pl.Float64) + local.dt.minute() / 60).to_list()
        days = local.dt.date().to_list()
        public = holidays.country_holidays(loc.country, subdiv=loc.subdivision, years=range(2024, 2027))
        for day, hour in zip(days, hours, strict=True):
            opening = loc.hours[day.weekday()]
            assert opening is not None and day not in public, (loc.name, day)
            assert opening[0] <= hour < opening[1], (loc.name, day, hour)


def test_weekday_pattern(demo: Frames) -> None:
    interactions, _ = demo
    london = interactions.filter(pl.col("location") == "London")["created_at"].dt.convert_time_zone(
        "Europe/London"
    )
    per_day = london.dt.weekday().value_counts().rows_by_key("created_at")
    assert per_day[1][0] > per_day[3][0] > per_day[6][0] > per_day[7][0]


def test_interaction_times_are_ordered(demo: Frames) -> None:
    interactions, _ = demo
    bad = interactions.filter(
        (pl.col("first_response_at") < pl.col("created_at"))
        | (pl.col("resolved_at") < pl.col("created_at"))
        | (pl.col("closed_at") < pl.col("resolved_at"))
        | (
            pl.col("updated_at")
            < pl.max_horizontal("created_at", "first_response_at", "resolved_at", "closed_at")
        )
    )
    assert bad.height == 0, bad.head()


def test_events_are_sorted_and_agree_with_the_interaction_fields(demo: Frames) -> None:
    interactions, events = demo
    unsorted = events.filter(
        (pl.col("at") < pl.col("at").shift(1))
        & (pl.col("interaction_id") == pl.col("interaction_id").shift(1))
    )
    assert unsorted.height == 0
    assert (events["interaction_id"].rle_id().max() or 0) + 1 == interactions.height  # each one contiguous

    statuses = events.filter(pl.col("type") == "status_change")
    derived = (
        events.group_by("interaction_id", maintain_order=True)
        .agg(
            pl.col("at").filter(pl.col("type") == "agent_reply").min().alias("first_reply"),
            pl.col("at").max().alias("last_event"),
        )
        .join(
            statuses.group_by("interaction_id", maintain_order=True).agg(
                pl.col("at").filter(pl.col("status") == "solved").max().alias("last_solved"),
                pl.col("at").filter(pl.col("status") == "closed").max().alias("closed"),
                pl.col("status").last().alias("last_status"),
                ((pl.col("status") == "open") & (pl.col("status").shift(1) == "solved"))
                .sum()
                .alias("reopens"),
            ),
            on="interaction_id",
        )
    )
    joined = interactions.join(derived, on="interaction_id", how="left", validate="1:1")
    assert joined.height == interactions.height
    for field, expected in (
        ("first_response_at", "first_reply"),
        ("resolved_at", "last_solved"),
        ("closed_at", "closed"),
        ("status", "last_status"),
        ("updated_at", "last_event"),
    ):
        mismatched = joined.filter(pl.col(field).ne_missing(pl.col(expected)))
        assert mismatched.height == 0, (field, mismatched.select("interaction_id", field, expected).head())
    assert (joined["reopens"] == joined["reopens_right"].cast(pl.Int32)).all()
    assert set(statuses["status"]) == {s.value for s in Status}
    assert joined.filter(pl.col("reopens") > 0).height > 0


def test_messages_carry_authors_and_text(demo: Frames) -> None:
    interactions, events = demo
    messages = events.filter(pl.col("type") != "status_change")
    assert messages["body"].null_count() == 0
    customer_side = events.filter(pl.col("type") == "customer_message").join(
        interactions.select("interaction_id", "customer", "agent"), on="interaction_id"
    )
    assert (customer_side["author"] == customer_side["customer"]).all()
    replies = events.filter(pl.col("type") == "agent_reply").join(
        interactions.select("interaction_id", "agent"), on="interaction_id"
    )
    assert (replies["author"] == replies["agent"]).all()
    assert events.filter(pl.col("type") == "internal_note").height > 0


def test_every_site_has_a_calendar_that_resolves() -> None:
    for name, calendar in LOCATION_CALENDARS.items():
        ZoneInfo(str(calendar["timezone"]))
        country_holidays = holidays.country_holidays(
            str(calendar["country"]), subdiv=calendar["subdivision"], years=date.today().year
        )
        assert len(country_holidays) > 0, name


def test_chunked_files_hold_exactly_the_tables_built_at_once(tmp_path: Path) -> None:
    from polars.testing import assert_frame_equal

    from servicelens.demo import generate_frames

    generate_demo(tmp_path, interactions=1_500, seed=9, end=DEMO_END, chunk_size=400)
    interactions, events = generate_frames(1_500, 9, DEMO_END)
    assert_frame_equal(pl.read_parquet(tmp_path / "interactions.parquet"), interactions)
    assert_frame_equal(pl.read_parquet(tmp_path / "events.parquet"), events)
