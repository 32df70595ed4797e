"""Business time of the vectorised calendar table against the minute-by-minute oracle."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sla_oracle import business_minutes
from sla_strategies import RANGE_FIRST, RANGE_LAST, calendars, spans

from sla.calendar import CalendarTable, build_table
from sla.config import CalendarConfig, HolidaySource, Weekday


def _table(calendar: CalendarConfig) -> CalendarTable:
    return build_table({"c": calendar}, RANGE_FIRST, RANGE_LAST)


def _engine_minutes(table: CalendarTable, start: datetime, stop: datetime) -> float:
    frame = pl.DataFrame({"cal": [0], "a": [start], "b": [stop]}).with_columns(
        (table.business_us(pl.col("cal"), pl.col("b")) - table.business_us(pl.col("cal"), pl.col("a"))).alias(
            "us"
        )
    )
    return float(frame["us"][0]) / 60_000_000


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calendar=calendars(), span=spans())
def test_business_minutes_match_the_minute_oracle(
    calendar: CalendarConfig, span: tuple[datetime, datetime]
) -> None:
    start, stop = span
    assert _engine_minutes(_table(calendar), start, stop) == business_minutes(calendar, start, stop)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calendar=calendars(), span=spans(), target=st.integers(1, 3000))
def test_due_instant_is_the_first_moment_the_target_is_reached(
    calendar: CalendarConfig, span: tuple[datetime, datetime], target: int
) -> None:
    start, _ = span
    table = _table(calendar)
    lazy = pl.DataFrame({"cal": [0], "a": [start]}).lazy()
    lazy = lazy.with_columns(
        (table.business_us(pl.col("cal"), pl.col("a")) + target * 60_000_000).alias("goal")
    )
    due: datetime | None = table.with_instant(lazy, "cal", "goal", "due").collect()["due"][0]
    assert due is not None
    assert business_minutes(calendar, start, due) == target
    assert business_minutes(calendar, start, due - timedelta(minutes=1)) == target - 1


@pytest.mark.parametrize(
    ("zone", "day", "expected_hours"),
    [
        ("Europe/Berlin", date(2024, 3, 31), 23),  # spring forward: 02:00-03:00 never happens
        ("Europe/Berlin", date(2024, 10, 27), 25),  # fall back: 02:00-03:00 happens twice
        ("Australia/Lord_Howe", date(2024, 4, 7), 24.5),  # half-hour shift back
        ("Australia/Lord_Howe", date(2024, 10, 6), 23.5),
        ("Asia/Kolkata", date(2024, 3, 31), 24),
    ],
)
def test_a_whole_local_day_lasts_as_long_as_the_clock_says(
    zone: str, day: date, expected_hours: float
) -> None:
    calendar = CalendarConfig(timezone=zone, hours={d: ["00:00-24:00"] for d in Weekday})
    table = _table(calendar)
    from zoneinfo import ZoneInfo

    start = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone))
    stop = start + timedelta(days=1)  # wall-clock arithmetic: next local midnight
    assert _engine_minutes(table, start.astimezone(UTC), stop.astimezone(UTC)) == expected_hours * 60


def test_a_holiday_on_a_weekend_closes_nothing_extra_and_an_overnight_shift_belongs_to_its_start_date() -> (
    None
):
    calendar = CalendarConfig(
        timezone="Europe/London",
        hours={Weekday.SUN: ["22:00-06:00"], Weekday.MON: ["09:00-17:00"]},
        holidays=[HolidaySource(country="GB", subdivision="ENG")],
    )
    table = _table(calendar)
    # Christmas Day 2022 was a Sunday (its bank holiday moved to Tuesday 27th): the Sunday night shift is dropped,
    # and Monday 26th (Boxing Day) is a holiday too.
    week = (datetime(2022, 12, 24, tzinfo=UTC), datetime(2022, 12, 31, tzinfo=UTC))
    assert _engine_minutes(table, *week) == business_minutes(calendar, *week) == 0
    normal = (datetime(2023, 1, 7, tzinfo=UTC), datetime(2023, 1, 14, tzinfo=UTC))
    assert _engine_minutes(table, *normal) == business_minutes(calendar, *normal) == 16 * 60
