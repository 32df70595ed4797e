"""Crontab expressions as APScheduler triggers, with crontab's weekday numbering.

APScheduler 3's ``CronTrigger.from_crontab`` numbers weekdays from Monday = 0, so ``1-5`` would mean Tuesday
to Saturday; here 0 and 7 are Sunday, as in crontab(5).
"""

from __future__ import annotations

from datetime import UTC

from apscheduler.triggers.cron import CronTrigger

_CRON_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def _crontab_days(field: str) -> str:
    """A crontab day-of-week field (numbers 0-7, Sunday = 0 or 7) as APScheduler weekday names."""
    if field in {"*", "?", "*/1"} or any(c.isalpha() for c in field):
        return field  # names mean the same in both
    days: set[int] = set()
    for item in field.split(","):
        span, _, step_text = item.partition("/")
        step = int(step_text) if step_text else 1
        if span == "*":
            first, last = 0, 6
        elif "-" in span:
            low, high = span.split("-", 1)
            first, last = int(low), int(high)
        else:
            first = int(span)
            last = 7 if step_text else first  # `5/2` means from Friday on
        if not (0 <= first <= 7 and 0 <= last <= 7 and first <= last):
            raise ValueError(f"day of week {item!r} is not within 0-7")
        days.update(day % 7 for day in range(first, last + 1, step))
    return ",".join(_CRON_WEEKDAYS[day] for day in sorted(days))


def crontab_trigger(expression: str) -> CronTrigger:
    """A UTC trigger for a 5-field crontab expression, weekdays numbered as crontab does."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"cron {expression!r} must have 5 fields (minute hour day month day-of-week)")
    minute, hour, day, month, day_of_week = fields
    return CronTrigger(
        minute=minute, hour=hour, day=day, month=month, day_of_week=_crontab_days(day_of_week), timezone=UTC
    )
