"""Hypothesis strategies shared by the SLA property tests: calendars in awkward zones, spans around DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import strategies as st

from sla.config import CalendarConfig, CalendarException, HolidaySource, Weekday

ZONES = {
    "Europe/London": ("GB", "ENG"),
    "Europe/Berlin": ("DE", "BY"),
    "America/New_York": ("US", "NY"),
    "America/Chicago": ("US", "IL"),
    "Asia/Kolkata": ("IN", None),
    "Australia/Sydney": ("AU", "NSW"),
    "Australia/Lord_Howe": ("AU", "NSW"),  # half-hour DST shift
    "Asia/Kathmandu": (None, None),  # +05:45
    "America/St_Johns": (None, None),  # -03:30 with DST
    "UTC": (None, None),
}
# DST changes (both ways, several hemispheres), New Year, and a weekend holiday (Christmas 2022 was a Sunday).
INTERESTING = [
    datetime(2024, 3, 10, tzinfo=UTC),
    datetime(2024, 3, 31, tzinfo=UTC),
    datetime(2024, 4, 6, 12, tzinfo=UTC),
    datetime(2024, 10, 5, 12, tzinfo=UTC),
    datetime(2024, 10, 27, tzinfo=UTC),
    datetime(2024, 11, 3, tzinfo=UTC),
    datetime(2024, 12, 30, tzinfo=UTC),
    datetime(2022, 12, 23, tzinfo=UTC),
    datetime(2025, 1, 17, tzinfo=UTC),
]
RANGE_FIRST, RANGE_LAST = date(2022, 12, 1), date(2025, 2, 28)


def _hours_text(start: int, length: int) -> str:
    end = (start + length) % 1440
    end_text = "24:00" if end == 0 and start + length == 1440 else f"{end // 60:02d}:{end % 60:02d}"
    return f"{start // 60:02d}:{start % 60:02d}-{end_text}"


@st.composite
def calendars(draw: st.DrawFn) -> CalendarConfig:
    zone = draw(st.sampled_from(sorted(ZONES)))
    country, subdivision = ZONES[zone]
    if draw(st.integers(0, 9)) == 0:
        return CalendarConfig(timezone=zone, always_open=True, closed_dates=[date(2024, 12, 31)])
    hours: dict[Weekday, list[str]] = {}
    for day in Weekday:
        count = draw(st.integers(0, 2))
        intervals = []
        for _ in range(count):
            start = draw(st.integers(0, 95)) * 15 + draw(st.sampled_from([0, 0, 7]))
            length = draw(st.integers(1, 64)) * 15  # up to 16 hours: shifts may cross midnight
            intervals.append(_hours_text(start, length))
        hours[day] = intervals
    if not any(hours.values()):
        hours[Weekday.MON] = ["09:00-17:00"]
    holidays = (
        [HolidaySource(country=country, subdivision=subdivision)] if country and draw(st.booleans()) else []
    )
    exceptions = []
    if draw(st.booleans()):
        exceptions.append(CalendarException(date=date(2024, 12, 31), hours=["10:00-14:00"]))
    return CalendarConfig(
        timezone=zone,
        hours=hours,
        holidays=holidays,
        closed_dates=[date(2024, 3, 31)] if draw(st.booleans()) else [],
        exceptions=exceptions,
    )


@st.composite
def spans(draw: st.DrawFn) -> tuple[datetime, datetime]:
    base = draw(st.sampled_from(INTERESTING))
    start = base + timedelta(minutes=draw(st.integers(-3 * 1440, 3 * 1440)))
    length = draw(st.one_of(st.just(0), st.integers(0, 240), st.integers(0, 9 * 1440)))
    return start, start + timedelta(minutes=length)
