"""Clocks with pauses and reopen cycles, evaluated by the engine, against the minute-by-minute oracle."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sla_oracle import counted_minutes
from sla_strategies import calendars, spans
from sla_test_data import events, interactions

from servicelens.model import Status
from sla.config import CalendarConfig, SlaConfig
from sla.evaluate import evaluate

DONE = {"solved", "closed"}
STATUSES = [s.value for s in Status]


def _config(calendar: CalendarConfig | None, paused: list[str]) -> SlaConfig:
    rule = {"targets": {"default": 240}, "business_hours": calendar is not None, "pause_statuses": paused}
    return SlaConfig.model_validate(
        {
            "calendars": {"c": (calendar or CalendarConfig(always_open=True)).model_dump()},
            "default_calendar": "c",
            "history_from": date(2022, 12, 1),
            "horizon_days": 60,
            "fallback": {"name": "p", "metrics": {"resolution": rule, "requester_wait": rule}},
        }
    )


def _oracle_cycles(
    created: datetime, changes: list[tuple[datetime, str]], now: datetime
) -> list[tuple[datetime, datetime]]:
    """Resolution cycles by a plain walk over the history: creation or a reopen starts one, a solve ends it."""
    cycles: list[tuple[datetime, datetime]] = []
    start: datetime | None = created
    done = False
    for moment, status in changes:
        if status in DONE and not done:
            assert start is not None
            cycles.append((start, moment))
            start, done = None, True
        elif status not in DONE and done:
            start, done = moment, False
    if start is not None:
        cycles.append((start, now))
    return cycles


@st.composite
def histories(draw: st.DrawFn) -> tuple[datetime, list[tuple[datetime, str]], datetime]:
    created, stop = draw(spans())
    length = int((stop - created).total_seconds() // 60)
    offsets = sorted(draw(st.sets(st.integers(0, max(length, 0)), max_size=6))) if length else []
    changes = [(created + timedelta(minutes=o), draw(st.sampled_from(STATUSES))) for o in offsets]
    return created, changes, stop


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    calendar=st.one_of(st.none(), calendars()),
    history=histories(),
    paused=st.lists(st.sampled_from(STATUSES), unique=True, max_size=3),
)
def test_paused_business_clocks_match_the_oracle(
    calendar: CalendarConfig | None,
    history: tuple[datetime, list[tuple[datetime, str]], datetime],
    paused: list[str],
) -> None:
    created, changes, now = history
    late = now + timedelta(hours=1)  # after `now`: must be ignored
    rows = [("x", moment, "status_change", status) for moment, status in [*changes, (late, "solved")]]
    config = _config(calendar, paused)
    result = evaluate(
        interactions([{"interaction_id": "x", "created_at": created}]), events(rows), config, now
    ).collect()

    def status_at(t: datetime) -> str:
        current = "new"
        for moment, status in changes:
            if moment <= t:
                current = status
        return current

    wait_end = now
    if status_at(now) in DONE:
        entered = [
            m for i, (m, s) in enumerate(changes) if s in DONE and (i == 0 or changes[i - 1][1] not in DONE)
        ]
        wait_end = entered[-1] if entered else now
    expected_wait = counted_minutes(calendar, created, wait_end, status_at, set(paused))
    wait = result.filter(pl.col("metric") == "requester_wait")
    assert wait["elapsed_minutes"].to_list() == [expected_wait]

    expected_cycles = [
        counted_minutes(calendar, start, stop, status_at, set(paused))
        for start, stop in _oracle_cycles(created, changes, now)
    ]
    resolution = result.filter(pl.col("metric") == "resolution").sort("cycle")
    assert resolution["elapsed_minutes"].to_list() == expected_cycles
    assert resolution["cycle"].to_list() == list(range(1, len(expected_cycles) + 1))
