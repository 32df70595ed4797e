"""The vectorised engine treats every interaction on its own: evaluating many at once, in small key ranges,
gives the rows each gets alone; due times of pausing clocks match a minute-by-minute walk; local weeks match
a time-zone conversion."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sla_oracle import business_minute_test
from sla_strategies import calendars, spans
from sla_test_data import events, interactions

import sla.evaluate
from servicelens.model import Status
from sla.compliance import compliance, local_week_expr
from sla.config import CalendarConfig, SlaConfig
from sla.evaluate import evaluate, evaluate_detailed

ALL_METRICS = [
    "first_response",
    "next_response",
    "periodic_update",
    "resolution",
    "requester_wait",
    "agent_work",
]
STATUSES = [s.value for s in Status]
START = datetime(2026, 3, 2, 8, tzinfo=UTC)
NOW = START + timedelta(days=3)
KEY = ["interaction_id", "metric", "cycle"]


def _config() -> SlaConfig:
    business = {"targets": {"default": 240, "urgent": 30}}
    calendar_time = {"targets": {"default": 600}, "business_hours": False, "pause_statuses": ["on_hold"]}
    return SlaConfig.model_validate(
        {
            "calendars": {
                "berlin": {
                    "timezone": "Europe/Berlin",
                    "hours": {"mon": ["09:00-17:00"], "tue": ["22:00-06:00"]},
                },
                "sydney": {"timezone": "Australia/Sydney", "hours": {"wed": ["08:00-12:30", "13:30-18:00"]}},
            },
            "default_calendar": "berlin",
            "location_calendars": {"Sydney": "sydney"},
            "history_from": date(2026, 1, 1),
            "policies": [
                {
                    "name": "calendar time",
                    "when": {"channel": ["chat"]},
                    "metrics": dict.fromkeys(ALL_METRICS, calendar_time),
                }
            ],
            "fallback": {"name": "business", "metrics": dict.fromkeys(ALL_METRICS, business)},
        }
    )


EVENT_KINDS = ["agent_reply", "customer_message", "internal_note", "status_change", "status_change"]


@st.composite
def tickets(draw: st.DrawFn, name: str) -> tuple[dict[str, Any], list[tuple[Any, ...]]]:
    created = START + timedelta(minutes=draw(st.integers(0, 3 * 1440)))
    ticket: dict[str, Any] = {
        "interaction_id": name,
        "created_at": created,
        "channel": draw(st.sampled_from(["chat", "email"])),
        "location": draw(st.sampled_from(["Sydney", "Berlin", None])),
        "priority": draw(st.sampled_from(["urgent", "low", None])),
    }
    if draw(st.booleans()):
        ticket["first_response_at"] = created + timedelta(minutes=draw(st.integers(0, 600)))
    if draw(st.booleans()):
        ticket["resolved_at"] = created + timedelta(minutes=draw(st.integers(0, 900)))
    rows: list[tuple[Any, ...]] = []
    for _ in range(draw(st.integers(0, 7))):
        at = created + timedelta(minutes=draw(st.integers(-60, 1500)))  # some before creation or after now
        kind = draw(st.sampled_from(EVENT_KINDS))
        rows.append(
            (name, at, kind, draw(st.sampled_from(STATUSES))) if kind == "status_change" else (name, at, kind)
        )
    return ticket, rows


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.integers(0, 10**6), min_size=1, max_size=6, unique=True).flatmap(
        lambda names: st.tuples(*(tickets(str(n)) for n in names))
    )
)
def test_many_interactions_in_small_key_ranges_give_the_rows_each_gets_alone(
    drawn: tuple[tuple[dict[str, Any], list[tuple[Any, ...]]], ...],
) -> None:
    config = _config()
    every_ticket = interactions([ticket for ticket, _ in drawn])
    every_event = events([row for _, rows in drawn for row in rows])
    alone = pl.concat(
        [evaluate_detailed(interactions([t]), events(rows), config, NOW).collect() for t, rows in drawn]
    )
    together = evaluate_detailed(every_ticket, every_event, config, NOW).collect()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sla.evaluate, "CHUNK_INTERACTIONS", 2)
        in_pairs = evaluate_detailed(every_ticket, every_event, config, NOW).collect()
    assert alone.sort(KEY).equals(together.sort(KEY))
    assert alone.sort(KEY).equals(in_pairs.sort(KEY))


def _due_by_walk(
    calendar: CalendarConfig | None,
    start: datetime,
    end: datetime,
    target: int,
    status_at: Any,
    paused: set[str],
    running: bool,
) -> datetime | None:
    """Minute walk: the instant the counted minutes reach ``target`` within [start, end); else, unless the
    clock is running and paused now, the instant it would reach it counting business time from ``end``."""
    counts = business_minute_test(calendar) if calendar is not None else (lambda _t: True)
    counted, t = 0, start
    while t < end:
        if status_at(t) not in paused and counts(t):
            counted += 1
            if counted == target:
                return t + timedelta(minutes=1)
        t += timedelta(minutes=1)
    if running and status_at(end) in paused:
        return None
    while t < end + timedelta(days=60):  # beyond the calendars' horizon there is no due time
        if counts(t):
            counted += 1
            if counted == target:
                return t + timedelta(minutes=1)
        t += timedelta(minutes=1)
    return None


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    calendar=st.one_of(st.none(), calendars()),
    span=spans(),
    offsets=st.lists(st.integers(0, 3000), max_size=5, unique=True),
    statuses=st.lists(st.sampled_from(STATUSES), min_size=5, max_size=5),
    paused=st.lists(st.sampled_from(STATUSES), unique=True, max_size=3),
    target=st.integers(1, 600),
)
def test_due_times_of_pausing_clocks_match_a_minute_walk(
    calendar: CalendarConfig | None,
    span: tuple[datetime, datetime],
    offsets: list[int],
    statuses: list[str],
    paused: list[str],
    target: int,
) -> None:
    created, now = span
    changes = sorted(
        (created + timedelta(minutes=o), s) for o, s in zip(offsets, statuses, strict=False) if o
    )
    changes = [(m, s) for m, s in changes if m <= now]
    rule = {"targets": {"default": target}, "business_hours": calendar is not None, "pause_statuses": paused}
    config = SlaConfig.model_validate(
        {
            "calendars": {"c": (calendar or CalendarConfig(always_open=True)).model_dump()},
            "default_calendar": "c",
            "history_from": date(2022, 12, 1),
            "horizon_days": 60,
            "fallback": {"name": "p", "metrics": {"requester_wait": rule}},
        }
    )
    rows = [("x", moment, "status_change", status) for moment, status in changes]
    result = evaluate(
        interactions([{"interaction_id": "x", "created_at": created}]), events(rows), config, now
    ).collect()

    def status_at(t: datetime) -> str:
        current = "new"
        for moment, status in changes:
            if moment <= t:
                current = status
        return current

    done = {"solved", "closed"}
    end, running = now, status_at(now) not in done
    if not running:
        entered = [
            m for i, (m, s) in enumerate(changes) if s in done and (i == 0 or changes[i - 1][1] not in done)
        ]
        end = entered[-1]
    expected = _due_by_walk(calendar, created, end, target, status_at, set(paused), running)
    if expected is not None and expected > now + timedelta(days=60):
        expected = None  # beyond the calendars' horizon
    assert result["due_at"].to_list() == [expected]


@settings(max_examples=20, deadline=None)
@given(
    moments=st.lists(
        st.datetimes(
            min_value=datetime(2023, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC)
        ),
        min_size=1,
        max_size=40,
    ),
    picks=st.lists(st.integers(0, 3), min_size=40, max_size=40),
)
def test_local_weeks_equal_a_time_zone_conversion(moments: list[datetime], picks: list[int]) -> None:
    zones = {"syd": "Australia/Sydney", "ny": "America/New_York", "lhw": "Australia/Lord_Howe"}
    config = SlaConfig.model_validate(
        {
            "calendars": {name: {"timezone": zone, "always_open": True} for name, zone in zones.items()},
            "default_calendar": "syd",
        }
    )
    names = [*sorted(zones), "unknown"]
    frame = pl.DataFrame(
        {"started_at": moments, "calendar": [names[picks[i]] for i in range(len(moments))]},
        schema={"started_at": pl.Datetime("us", "UTC"), "calendar": pl.String()},
    )
    weeks = frame.select(local_week_expr(config))["week"].to_list()
    for moment, calendar, week in zip(moments, frame["calendar"], weeks, strict=True):
        local = moment.astimezone(ZoneInfo(zones[calendar])) if calendar in zones else moment
        assert week == local.date() - timedelta(days=local.weekday())


def test_no_interactions_give_no_rows_and_compliance_needs_no_start_without_weeks() -> None:
    config = _config()
    assert evaluate(interactions([]), events([]), config, NOW).collect().height == 0
    tickets = interactions(
        [
            {"interaction_id": "a", "created_at": START, "team": "billing", "channel": "chat"},
            {"interaction_id": "b", "created_at": START, "team": "billing", "channel": "chat"},
        ]
    )
    history = events([("a", START + timedelta(minutes=5), "agent_reply")])
    results = evaluate(tickets, history, config, NOW)  # no started_at / calendar columns
    rates = compliance(results, tickets, by=["team"]).filter(pl.col("metric") == "first_response").collect()
    assert rates.select("team", "n", "met", "breached", "compliance").row(0) == ("billing", 2, 1, 1, 0.5)
