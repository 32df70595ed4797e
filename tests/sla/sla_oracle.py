"""A deliberately slow, obviously correct reference for business time: it looks at every UTC minute.

A minute is business time when its wall-clock time in the calendar's zone lies inside an opening interval of
its local date, or inside an interval of the previous local date that runs past midnight. Dates with an
exception use the exception's hours; closed dates and holidays have none. Nothing here shares code with
``sla.calendar`` except the config's ``parse_hours`` and the ``holidays`` package itself.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays

from sla.config import WEEKDAY_INDEX, CalendarConfig, parse_hours

MINUTE = timedelta(minutes=1)


def opening_hours(calendar: CalendarConfig) -> Callable[[date], list[tuple[int, int]]]:
    special = {e.date: [parse_hours(t) for t in e.hours] for e in calendar.exceptions}
    closed = set(calendar.closed_dates)
    holiday_sets = [holidays.country_holidays(h.country, subdiv=h.subdivision) for h in calendar.holidays]
    weekly: dict[int, list[tuple[int, int]]] = {}
    for day, texts in calendar.hours.items():
        weekly[WEEKDAY_INDEX[day]] = [parse_hours(t) for t in texts]

    def hours_of(day: date) -> list[tuple[int, int]]:
        if day in special:
            return special[day]
        if day in closed or any(day in h for h in holiday_sets):
            return []
        if calendar.always_open:
            return [(0, 1440)]
        return weekly.get(day.weekday(), [])

    return hours_of


def business_minute_test(calendar: CalendarConfig) -> Callable[[datetime], bool]:
    """A predicate: is the UTC minute starting at ``t`` business time?"""
    hours_of = opening_hours(calendar)
    zone = ZoneInfo(calendar.timezone)

    def test(t: datetime) -> bool:
        local = t.astimezone(zone)
        wall = local.hour * 60 + local.minute
        today = local.date()
        if any(a <= wall < b for a, b in hours_of(today)):
            return True
        return any(a <= wall + 1440 < b for a, b in hours_of(today - timedelta(days=1)))

    return test


def business_minutes(calendar: CalendarConfig, start: datetime, stop: datetime) -> int:
    """Business minutes in [start, stop); both must fall on whole UTC minutes."""
    test = business_minute_test(calendar)
    count = 0
    t = start.astimezone(UTC)
    while t < stop:
        count += test(t)
        t += MINUTE
    return count


def counted_minutes(
    calendar: CalendarConfig | None,
    start: datetime,
    stop: datetime,
    status_at: Callable[[datetime], str],
    paused: set[str],
) -> int:
    """Minutes in [start, stop) that are business time (every minute when ``calendar`` is None) and in a
    status outside ``paused``."""
    test = business_minute_test(calendar) if calendar is not None else (lambda _t: True)
    count = 0
    t = start
    while t < stop:
        if status_at(t) not in paused and test(t):
            count += 1
        t += MINUTE
    return count
