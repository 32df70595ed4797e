"""How KPI results are written for a manager: every figure with its n, intervals spelled out, small n flagged."""

from __future__ import annotations

from datetime import UTC, datetime

from servicelens.kpis import SMALL_N

MISSING = "—"


def percent(share: float | None) -> str:
    return MISSING if share is None else f"{100 * share:.1f}%"


def nps_points(points: float | None) -> str:
    return MISSING if points is None else f"{points:+.0f}"


def effort(mean: float | None) -> str:
    return MISSING if mean is None else f"{mean:.2f} / 7"


def decimal(value: float | None) -> str:
    return MISSING if value is None else f"{value:.2f}"


def count(value: float | int | None) -> str:
    return MISSING if value is None else f"{int(value):,}"


def duration(minutes: float | None) -> str:
    """Minutes as ``45 min``, ``3 h 05 min`` or ``2 d 04 h``: the precision a manager reads."""
    if minutes is None:
        return MISSING
    total = round(minutes)
    if total < 60:
        return f"{total} min"
    hours, mins = divmod(total, 60)
    if hours < 48:
        return f"{hours} h {mins:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours:02d} h"


def interval(low: str, high: str) -> str:
    return f"{low} to {high}"


def sample_note(n: int, unit: str) -> str:
    """``n = 312 rated``, with a warning below the small-sample threshold."""
    note = f"n = {n:,} {unit}"
    if 0 < n < SMALL_N:
        note += f" · :warning: small sample (under {SMALL_N})"
    return note


def timestamp(value: datetime | None) -> str:
    if value is None:
        return "never"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
