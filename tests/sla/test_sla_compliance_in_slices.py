"""Compliance over a history read one range of interactions at a time equals compliance over all of it held
in memory: on random histories, on parquet scans sorted or not, and for any grouping."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sla_test_data import events, interactions

from servicelens.model import Status
from sla.compliance import GROUPABLE, compliance, compliance_in_slices
from sla.config import SlaConfig
from sla.evaluate import evaluate_detailed, slices_by_interaction

METRICS = ["first_response", "next_response", "periodic_update", "resolution", "requester_wait"]
STATUSES = [s.value for s in Status]
START = datetime(2026, 3, 2, 8, tzinfo=UTC)
NOW = START + timedelta(days=9)
KINDS = ["agent_reply", "customer_message", "internal_note", "status_change", "status_change"]


def _config() -> SlaConfig:
    business = {"targets": {"default": 240, "urgent": 30}, "pause_statuses": ["pending"]}
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
                    "name": "chat",
                    "when": {"channel": ["chat"]},
                    "metrics": dict.fromkeys(METRICS, calendar_time),
                }
            ],
            "fallback": {"name": "business", "metrics": dict.fromkeys(METRICS, business)},
        }
    )


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[tuple[Any, ...]]]:
    """Up to 12 interactions over about a week (so several local weeks) with up to 6 events each."""
    names = draw(st.lists(st.integers(0, 10**4), min_size=1, max_size=12, unique=True))
    tickets: list[dict[str, Any]] = []
    rows: list[tuple[Any, ...]] = []
    for number in names:
        name = f"t{number}"
        created = START + timedelta(minutes=draw(st.integers(0, 9 * 1440)))
        tickets.append(
            {
                "interaction_id": name,
                "created_at": created,
                "channel": draw(st.sampled_from(["chat", "email"])),
                "location": draw(st.sampled_from(["Sydney", "Berlin", None])),
                "team": draw(st.sampled_from(["billing", "returns", None])),
                "priority": draw(st.sampled_from(["urgent", "low", None])),
            }
        )
        for _ in range(draw(st.integers(0, 6))):
            at = created + timedelta(minutes=draw(st.integers(-60, 3000)))
            kind = draw(st.sampled_from(KINDS))
            status = (draw(st.sampled_from(STATUSES)),) if kind == "status_change" else ()
            rows.append((name, at, kind, *status))
    return tickets, rows


def _in_memory(
    tickets: pl.LazyFrame, history: pl.LazyFrame, by: list[str], config: SlaConfig
) -> pl.DataFrame:
    results = evaluate_detailed(tickets, history, config, NOW)
    return compliance(results, tickets, by=by, config=config).collect()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    drawn=histories(),
    per_slice=st.integers(1, 5),
    by=st.lists(st.sampled_from([k for k in GROUPABLE if k != "agent"]), max_size=3, unique=True),
)
def test_compliance_in_slices_equals_compliance_in_memory(
    drawn: tuple[list[dict[str, Any]], list[tuple[Any, ...]]], per_slice: int, by: list[str]
) -> None:
    config = _config()
    tickets, history = interactions(drawn[0]), events(drawn[1])
    expected = _in_memory(tickets, history, by, config)
    got = compliance_in_slices(slices_by_interaction(tickets, history, per_slice), config, NOW, by=by)
    assert got.schema == expected.schema
    assert got.equals(expected)


@pytest.mark.parametrize("sorted_by_id", [True, False])
def test_parquet_scans_read_in_slices_give_the_in_memory_aggregates(
    tmp_path: Path, sorted_by_id: bool
) -> None:
    tickets, history = _fixed_history()
    config = _config()
    frames = {"interactions": interactions(tickets).collect(), "events": events(history).collect()}
    for name, frame in frames.items():
        frame = (
            frame.sort("interaction_id") if sorted_by_id else frame.sample(fraction=1.0, shuffle=True, seed=3)
        )
        frame.write_parquet(tmp_path / f"{name}.parquet", row_group_size=4)
    scans = [pl.scan_parquet(tmp_path / f"{name}.parquet") for name in frames]
    by = ["team", "location", "week"]
    got = compliance_in_slices(slices_by_interaction(scans[0], scans[1], per_slice=3), config, NOW, by=by)
    expected = _in_memory(frames["interactions"].lazy(), frames["events"].lazy(), by, config)
    assert expected.height > 1
    assert got.equals(expected)


def _fixed_history() -> tuple[list[dict[str, Any]], list[tuple[Any, ...]]]:
    """Twenty interactions in both sites, replied, paused, reopened and solved at varied delays."""
    tickets, rows = [], []
    for number in range(20):
        name = f"n{number:02d}"
        created = START + timedelta(hours=7 * number)
        tickets.append(
            {
                "interaction_id": name,
                "created_at": created,
                "channel": "chat" if number % 4 == 0 else "email",
                "location": "Sydney" if number % 3 == 0 else "Berlin",
                "team": "billing" if number % 2 else "returns",
                "priority": "urgent" if number % 5 == 0 else "low",
            }
        )
        rows += [
            (name, created + timedelta(minutes=13 * number), "agent_reply"),
            (name, created + timedelta(minutes=20 * number + 5), "status_change", "pending"),
            (name, created + timedelta(minutes=30 * number + 60), "customer_message"),
            (name, created + timedelta(minutes=30 * number + 61), "status_change", "open"),
        ]
        if number % 3:
            rows.append((name, created + timedelta(minutes=90 * number + 100), "status_change", "solved"))
    return tickets, rows


def test_every_interaction_and_its_events_fall_in_exactly_one_slice() -> None:
    tickets, history = _fixed_history()
    pairs = [
        (i.collect(), e.collect())
        for i, e in slices_by_interaction(interactions(tickets), events(history), per_slice=6)
    ]
    assert [p[0].height for p in pairs] == [6, 6, 6, 2]
    ids = pl.concat([p[0] for p in pairs])["interaction_id"]
    assert ids.sort().to_list() == sorted(t["interaction_id"] for t in tickets)
    for own, own_events in pairs:
        assert set(own_events["interaction_id"]) <= set(own["interaction_id"])
    assert sum(p[1].height for p in pairs) == len(history)


def test_no_slices_give_the_empty_aggregate_and_a_bad_size_is_refused() -> None:
    config = _config()
    empty = compliance_in_slices([], config, NOW, by=["team", "week"])
    expected = _in_memory(interactions([]), events([]), ["team", "week"], config)
    assert empty.is_empty()
    assert empty.schema == expected.schema
    with pytest.raises(ValueError, match="per_slice must be at least 1"):
        next(slices_by_interaction(interactions([]), events([]), per_slice=0))
    with pytest.raises(ValueError, match="cannot group compliance by"):
        compliance_in_slices([], config, NOW, by=["weekday"])
