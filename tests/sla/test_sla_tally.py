"""The aggregate-only path behind compliance_in_slices gives exactly what compliance over evaluate_detailed
gives, whatever the order of the events, with unknown interactions, repeated ids and every metric; its
shortcuts (hashed id lookup, per-slot business time) agree with the plain ways."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sla_strategies import RANGE_FIRST, RANGE_LAST, calendars
from sla_test_data import events, interactions

from servicelens.model import Status
from sla.calendar import build_table
from sla.clock import _event_keys
from sla.compliance import GROUPABLE, compliance, compliance_in_slices
from sla.config import CalendarConfig, SlaConfig
from sla.evaluate import _sorted, evaluate_detailed, slices_by_interaction

METRICS = ["first_response", "next_response", "periodic_update", "resolution", "requester_wait", "agent_work"]
STATUSES = [s.value for s in Status]
START = datetime(2026, 3, 2, 8, tzinfo=UTC)
NOW = START + timedelta(days=9)
KINDS = ["agent_reply", "customer_message", "internal_note", "status_change", "status_change"]


def _config() -> SlaConfig:
    business = {"targets": {"default": 240, "urgent": 30}, "pause_statuses": ["pending"], "warn_at": [50]}
    calendar_time = {"targets": {"urgent": 600}, "business_hours": False, "pause_statuses": ["on_hold"]}
    return SlaConfig.model_validate(
        {
            "calendars": {
                "berlin": {
                    "timezone": "Europe/Berlin",
                    "hours": {"mon": ["09:00-17:00"], "tue": ["22:00-06:00"], "thu": ["08:07-16:53"]},
                },
                "sydney": {"timezone": "Australia/Sydney", "hours": {"wed": ["08:00-12:30", "13:30-18:00"]}},
                "kolkata": {"timezone": "Asia/Kolkata", "always_open": True},
            },
            "default_calendar": "berlin",
            "location_calendars": {"Sydney": "sydney"},
            "team_calendars": {"returns": "kolkata"},
            "history_from": date(2026, 1, 1),
            "policies": [
                {
                    "name": "chat",
                    "when": {"channel": ["chat"]},
                    "metrics": dict.fromkeys(METRICS, calendar_time),
                },
                {
                    "name": "vip",
                    "when": {"priority": ["urgent"]},
                    "calendar": "sydney",
                    "metrics": {"first_response": business, "resolution": business},
                },
            ],
            "fallback": {"name": "business", "metrics": dict.fromkeys(METRICS, business)},
        }
    )


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[tuple[Any, ...]]]:
    """Up to 12 interactions (some created after now, some without an id) and their events in any order,
    with events of interactions that do not exist."""
    names = draw(st.lists(st.integers(0, 10**4), min_size=1, max_size=12, unique=True))
    tickets: list[dict[str, Any]] = []
    rows: list[tuple[Any, ...]] = []
    for number in names:
        name = f"t{number}"
        created = START + timedelta(minutes=draw(st.integers(0, 10 * 1440)))
        tickets.append(
            {
                "interaction_id": None if draw(st.integers(0, 15)) == 0 else name,
                "created_at": created,
                "channel": draw(st.sampled_from(["chat", "email"])),
                "location": draw(st.sampled_from(["Sydney", "Berlin", None])),
                "team": draw(st.sampled_from(["billing", "returns", None])),
                "agent": draw(st.sampled_from(["ann", "bob"])),
                "priority": draw(st.sampled_from(["urgent", "low", None])),
                "first_response_at": created + timedelta(minutes=draw(st.integers(1, 600)))
                if draw(st.booleans())
                else None,
            }
        )
        owner = name if draw(st.integers(0, 5)) else f"unknown{number}"
        for _ in range(draw(st.integers(0, 6))):
            at = created + timedelta(minutes=draw(st.integers(-60, 3000)))
            kind = draw(st.sampled_from(KINDS))
            status = (draw(st.sampled_from([*STATUSES, "escalated"])),) if kind == "status_change" else ()
            rows.append((owner, at, kind, *status))
    return tickets, draw(st.permutations(rows))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    drawn=histories(),
    per_slice=st.integers(1, 20),
    by=st.lists(st.sampled_from(GROUPABLE), max_size=4, unique=True),
)
def test_aggregate_path_equals_compliance_over_evaluate_detailed(
    drawn: tuple[list[dict[str, Any]], list[tuple[Any, ...]]], per_slice: int, by: list[str]
) -> None:
    config = _config()
    tickets, history = interactions(drawn[0]), events(drawn[1])
    results = evaluate_detailed(tickets, history, config, NOW)
    expected = compliance(results, tickets, by=by, config=config).collect()
    whole = compliance_in_slices([(tickets, history)], config, NOW, by=by)
    assert whole.schema == expected.schema
    assert whole.equals(expected)
    identified = tickets.filter(pl.col("interaction_id").is_not_null())
    sliced = compliance_in_slices(slices_by_interaction(identified, history, per_slice), config, NOW, by=by)
    unsliced = compliance(
        evaluate_detailed(identified, history, config, NOW), identified, by=by, config=config
    ).collect()
    assert sliced.equals(unsliced)


def test_weeks_are_local_to_each_calendar() -> None:
    config = _config()
    sunday = datetime(2026, 3, 8, 14, tzinfo=UTC)  # already Monday in Sydney, still Sunday in Berlin
    tickets = interactions(
        [
            {"interaction_id": "syd", "created_at": sunday, "location": "Sydney", "channel": "email"},
            {"interaction_id": "ber", "created_at": sunday, "location": "Berlin", "channel": "email"},
        ]
    )
    history = events([])
    got = compliance_in_slices([(tickets, history)], config, NOW, by=["location", "week"])
    expected = compliance(
        evaluate_detailed(tickets, history, config, NOW), tickets, ["location", "week"], config
    )
    assert got.equals(expected.collect())
    weeks = dict(got.filter(pl.col("metric") == "resolution").select("location", "week").iter_rows())
    assert weeks == {"Berlin": date(2026, 3, 2), "Sydney": date(2026, 3, 9)}


def test_events_find_their_interaction_in_any_order() -> None:
    known = pl.Series(["b", "a", "c", None])
    ids = pl.Series(["a", "a", "x", "c", "b", "a", None, "c", "zz"])
    keys = _event_keys(ids, known)
    assert keys is not None
    assert keys.to_list() == [1, 1, None, 2, 0, 1, None, 2, None]
    in_order = _event_keys(pl.Series(["a", "a", "ab", "b", "c", "c", "d"]), pl.Series(["a", "b", "c"]))
    assert in_order is not None
    assert in_order.to_list() == [0, 0, None, 1, 2, 2, None]
    # An id known twice gives its events to both interactions: the caller joins the text instead.
    assert _event_keys(pl.Series(["a"]), pl.Series(["a", "b", "a"])) is None
    only_b = _event_keys(pl.Series(["b"]), pl.Series(["a", "b", "a"]))
    assert only_b is not None and only_b.to_list() == [1]
    assert _event_keys(pl.Series(["b"]), pl.Series(["a", "b", "b"])) is None


def test_an_interaction_id_repeated_gets_the_events_under_each_row() -> None:
    config = _config()
    created = START + timedelta(days=1)
    tickets = interactions(
        [
            {"interaction_id": "a", "created_at": created, "channel": "chat", "priority": "urgent"},
            {"interaction_id": "a", "created_at": created, "channel": "email", "priority": "urgent"},
        ]
    )
    replied = events([("a", created + timedelta(minutes=30), "agent_reply")])
    rows = evaluate_detailed(tickets, replied, config, NOW).filter(pl.col("metric") == "first_response")
    assert rows.collect()["status"].to_list() == ["met", "met"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calendar=calendars(), other=calendars(), seed=st.integers(0, 2**32 - 1))
def test_business_time_by_slot_equals_the_sum_over_the_day(
    calendar: CalendarConfig, other: CalendarConfig, seed: int
) -> None:
    table = build_table({"a": calendar, "b": other}, RANGE_FIRST, RANGE_LAST)
    assert table.slot_us > 0
    by_day = dataclasses.replace(table, slot_us=0)
    rng = np.random.default_rng(seed)
    low = datetime(2022, 11, 20, tzinfo=UTC).timestamp() * 1e6
    high = datetime(2025, 3, 10, tzinfo=UTC).timestamp() * 1e6
    instants = rng.integers(int(low), int(high), 2000)
    instants[:10] = (instants[:10] // 60_000_000) * 60_000_000  # on a minute, as openings are
    which = rng.integers(0, 2, 2000)
    slot_values, slot_valid = table.business_array(which, instants)
    day_values, day_valid = by_day.business_array(which, instants)
    assert np.array_equal(slot_valid, day_valid)
    assert not slot_valid.all() and slot_valid.any()
    assert np.array_equal(slot_values[slot_valid], day_values[day_valid])


@settings(max_examples=50, deadline=None)
@given(runs=st.lists(st.lists(st.text("ab1", max_size=3)), max_size=70))
def test_ids_in_sorted_runs_are_merged_into_their_sort(runs: list[list[str]]) -> None:
    ids = pl.Series([i for run in runs for i in sorted(run)], dtype=pl.String)
    assert _sorted(ids).to_list() == sorted(ids.to_list())
