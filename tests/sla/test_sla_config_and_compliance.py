"""The `sla:` config section (defaults, errors naming their path) and the compliance aggregates."""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
import pytest
from sla_test_data import at, events, interactions

from servicelens.config import ConfigError, parse_config
from sla.compliance import compliance
from sla.config import CalendarConfig, Metric, SlaConfig, parse_hours
from sla.evaluate import evaluate_detailed


def test_an_empty_section_gives_a_24x7_calendar_and_a_fallback_policy() -> None:
    config = parse_config({"sla": {}}, environ={}).sla
    assert config.calendar_names() == ["24x7"]
    assert config.fallback.metrics  # first_response, next_response, resolution
    assert config.fallback.metrics[Metric.FIRST_RESPONSE].target_for("urgent") == 60


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"calendars": {"x": {"timezone": "Mars/Olympus", "always_open": True}}}, "sla.calendars.x.timezone"),
        ({"calendars": {"x": {"hours": {"mon": ["9-17"]}}}}, "sla.calendars.x.hours"),
        ({"calendars": {"x": {"hours": {"funday": ["09:00-17:00"]}}}}, "sla.calendars.x.hours.funday"),
        ({"calendars": {"x": {"timezone": "UTC"}}}, "weekly `hours` or `always_open"),
        ({"calendars": {"x": {"always_open": True, "holidays": [{"country": "XX"}]}}}, "holidays"),
        ({"location_calendars": {"Paris": "paris"}}, "location_calendars.Paris: unknown calendar 'paris'"),
        ({"policies": [{"name": "p", "calendar": "nope"}]}, "policies[0].calendar: unknown calendar 'nope'"),
        (
            {"policies": [{"name": "p", "metrics": {"first_reply": {}}}]},
            "sla.policies[0].metrics.first_reply",
        ),
        (
            {"policies": [{"name": "p", "metrics": {"resolution": {"targets": {"vip": 5}}}}]},
            "target key 'vip'",
        ),
        ({"policies": [{"name": "p", "metrics": {"resolution": {"warn_at": [120]}}}]}, "warning thresholds"),
        ({"policies": [{"name": "p", "whenever": {}}]}, "sla.policies[0].whenever: Extra inputs"),
    ],
)
def test_bad_sections_are_errors_that_name_the_field(section: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"sla": section}, environ={})
    assert message in str(caught.value)


def test_opening_hours_parse_including_midnight_crossings() -> None:
    assert parse_hours("09:00-17:30") == (540, 1050)
    assert parse_hours("22:00-06:00") == (1320, 1800)
    assert parse_hours("00:00-24:00") == (0, 1440)
    with pytest.raises(ValueError, match="impossible"):
        parse_hours("25:00-26:00")


def test_calendar_weekly_minutes() -> None:
    calendar = CalendarConfig(timezone="Asia/Kolkata", hours={"mon": ["14:00-18:00", "09:00-13:00"]})
    assert calendar.weekly_minutes() == {0: [(540, 780), (840, 1080)]}


def _evaluated() -> tuple[pl.LazyFrame, pl.LazyFrame, SlaConfig]:
    config = SlaConfig.model_validate(
        {
            "calendars": {
                "sydney": {"timezone": "Australia/Sydney", "always_open": True},
                "london": {"timezone": "Europe/London", "always_open": True},
            },
            "default_calendar": "london",
            "location_calendars": {"Sydney": "sydney"},
            "history_from": date(2025, 1, 1),
            "fallback": {"name": "f", "metrics": {"first_response": {"targets": {"default": 60}}}},
        }
    )
    tickets = interactions(
        [
            # Sunday 2026-03-01 20:00 UTC is already Monday morning in Sydney: a different local week.
            {"interaction_id": "s1", "created_at": at("2026-03-01 20:00"), "location": "Sydney", "team": "A"},
            {"interaction_id": "l1", "created_at": at("2026-03-01 20:00"), "location": "London", "team": "A"},
            {"interaction_id": "l2", "created_at": at("2026-03-02 09:00"), "location": "London", "team": "A"},
            {"interaction_id": "l3", "created_at": at("2026-03-02 09:00"), "location": "London", "team": "B"},
        ]
    )
    history = events(
        [
            ("s1", at("2026-03-01 20:30"), "agent_reply"),
            ("l1", at("2026-03-01 23:00"), "agent_reply"),
            ("l2", at("2026-03-02 09:10"), "agent_reply"),
        ]
    )
    results = evaluate_detailed(tickets, history, config, at("2026-03-02 09:40"))
    return results, tickets, config


def test_compliance_counts_decided_clocks_with_n() -> None:
    results, tickets, config = _evaluated()
    by_team = compliance(results, tickets, by=["team"], config=config).collect()
    a = by_team.filter(pl.col("team") == "A").row(0, named=True)
    assert (a["n"], a["met"], a["breached"], a["compliance"]) == (3, 2, 1, pytest.approx(2 / 3))
    b = by_team.filter(pl.col("team") == "B").row(0, named=True)
    assert (b["n"], b["compliance"], b["at_risk"]) == (0, None, 1)  # 40 of 60 minutes: not decided yet


def test_compliance_weeks_are_local_to_the_calendar() -> None:
    results, tickets, config = _evaluated()
    weeks = compliance(results, tickets, by=["location", "week"], config=config).collect()
    sydney = weeks.filter(pl.col("location") == "Sydney")["week"].to_list()
    london = weeks.filter(pl.col("location") == "London")["week"].to_list()
    assert sydney == [date(2026, 3, 2)]
    assert sorted(london) == [date(2026, 2, 23), date(2026, 3, 2)]
    with pytest.raises(ValueError, match="cannot group"):
        compliance(results, tickets, by=["colour"])
