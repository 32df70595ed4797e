"""Semantics of the clocks, policy matching, statuses and re-evaluation."""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
import pytest
from sla_test_data import at, events, interactions

from sla.config import SlaConfig
from sla.evaluate import RESULT_COLUMNS, evaluate, evaluate_detailed, evaluate_subset
from sla.timeline import timeline

ALL_METRICS = [
    "first_response",
    "next_response",
    "periodic_update",
    "resolution",
    "requester_wait",
    "agent_work",
]


def _config(**extra: Any) -> SlaConfig:
    rule = {"targets": {"default": 120, "urgent": 30}, "business_hours": False}
    data: dict[str, Any] = {
        "history_from": date(2025, 1, 1),
        "fallback": {"name": "standard", "metrics": dict.fromkeys(ALL_METRICS, rule)},
    }
    data.update(extra)
    return SlaConfig.model_validate(data)


def _row(result: pl.DataFrame, iid: str, metric: str, cycle: int = 1) -> dict[str, Any]:
    rows = result.filter(
        (pl.col("interaction_id") == iid) & (pl.col("metric") == metric) & (pl.col("cycle") == cycle)
    )
    assert rows.height == 1, f"{iid} {metric} {cycle}: {rows.height} rows"
    return rows.row(0, named=True)


HISTORY = events(
    [
        ("a", at("2026-03-02 09:00"), "agent_reply"),
        ("a", at("2026-03-02 09:30"), "internal_note"),
        ("a", at("2026-03-02 10:00"), "customer_message"),
        ("a", at("2026-03-02 10:05"), "customer_message"),
        ("a", at("2026-03-02 10:30"), "status_change", "pending"),
        ("a", at("2026-03-02 12:30"), "status_change", "open"),
        ("a", at("2026-03-02 13:00"), "agent_reply"),
        ("a", at("2026-03-02 14:00"), "status_change", "solved"),
        ("a", at("2026-03-03 14:00"), "status_change", "open"),
        ("b", at("2026-03-02 08:10"), "status_change", "solved"),
    ]
)
TICKETS = interactions(
    [
        {"interaction_id": "a", "created_at": at("2026-03-02 08:00"), "priority": "normal"},
        {"interaction_id": "b", "created_at": at("2026-03-02 08:00"), "priority": "urgent"},
        {"interaction_id": "c", "created_at": at("2026-03-03 14:30"), "priority": None},
        {"interaction_id": "future", "created_at": at("2026-03-04 08:00"), "priority": "low"},
    ]
)
NOW = at("2026-03-03 15:00")


@pytest.fixture(scope="module")
def result() -> pl.DataFrame:
    return evaluate(TICKETS, HISTORY, _config(), NOW).collect()


def test_result_has_the_documented_columns_and_ignores_interactions_created_after_now(
    result: pl.DataFrame,
) -> None:
    assert result.columns == RESULT_COLUMNS
    assert "future" not in set(result["interaction_id"])


def test_first_response_stops_at_the_first_public_reply_not_at_a_note(result: pl.DataFrame) -> None:
    row = _row(result, "a", "first_response")
    assert (row["elapsed_minutes"], row["status"], row["completed_at"]) == (60, "met", at("2026-03-02 09:00"))
    assert row["due_at"] == at("2026-03-02 10:00")


def test_next_response_starts_at_the_first_customer_message_after_a_reply(result: pl.DataFrame) -> None:
    rows = result.filter((pl.col("interaction_id") == "a") & (pl.col("metric") == "next_response"))
    assert rows.height == 1  # the second message joined the running cycle
    row = rows.row(0, named=True)
    assert (row["elapsed_minutes"], row["status"]) == (180, "breached")
    assert row["due_at"] == at("2026-03-02 12:00")


def test_resolution_opens_a_new_cycle_on_reopen_and_pauses_in_pending(result: pl.DataFrame) -> None:
    first, second = _row(result, "a", "resolution", 1), _row(result, "a", "resolution", 2)
    assert (first["elapsed_minutes"], first["status"], first["completed_at"]) == (
        240,
        "breached",
        at("2026-03-02 14:00"),
    )
    assert first["due_at"] == at("2026-03-02 10:00")
    assert (second["elapsed_minutes"], second["status"], second["completed_at"]) == (60, "at_risk", None)
    assert second["due_at"] == at("2026-03-03 16:00")


def test_wait_and_work_count_their_statuses_over_the_whole_life(result: pl.DataFrame) -> None:
    assert _row(result, "a", "requester_wait")["elapsed_minutes"] == 150 + 90 + 60
    assert _row(result, "a", "agent_work")["elapsed_minutes"] == 150 + 90 + 60
    done = _row(result, "b", "requester_wait")
    assert (done["elapsed_minutes"], done["status"], done["completed_at"]) == (
        10,
        "met",
        at("2026-03-02 08:10"),
    )


def test_periodic_update_reports_the_longest_gap_and_the_live_gap_decides_the_status(
    result: pl.DataFrame,
) -> None:
    row = _row(result, "a", "periodic_update")
    assert row["elapsed_minutes"] == 120  # 09:00 -> 13:00 less two hours pending
    assert row["status"] == "at_risk"  # the gap opened by the reopen is at 50 %
    assert row["due_at"] == at("2026-03-03 16:00")


def test_solved_without_reply_is_not_applicable_and_priority_picks_the_target(result: pl.DataFrame) -> None:
    row = _row(result, "b", "first_response")
    assert (row["target_minutes"], row["elapsed_minutes"], row["status"]) == (30, 10, "not_applicable")
    assert _row(result, "c", "first_response")["target_minutes"] == 120  # no priority: the default target
    assert _row(result, "c", "first_response")["status"] == "running"


def test_paused_and_not_applicable_statuses() -> None:
    tickets = interactions([{"interaction_id": "p", "created_at": at("2026-03-03 14:00"), "priority": "low"}])
    history = events([("p", at("2026-03-03 14:10"), "status_change", "pending")])
    config = _config(
        fallback={
            "name": "f",
            "metrics": {
                "resolution": {"targets": {"default": 60}, "business_hours": False},
                "first_response": {"targets": {"urgent": 60}, "business_hours": False},
            },
        }
    )
    result = evaluate(tickets, history, config, NOW).collect()
    paused = _row(result, "p", "resolution")
    assert (paused["status"], paused["elapsed_minutes"], paused["due_at"]) == ("paused", 10, None)
    missing = _row(result, "p", "first_response")
    assert (missing["status"], missing["target_minutes"], missing["elapsed_minutes"]) == (
        "not_applicable",
        None,
        60,
    )


def test_first_matching_policy_wins_and_the_fallback_catches_the_rest() -> None:
    rule = {"resolution": {"targets": {"default": 10}, "business_hours": False}}
    config = _config(
        policies=[
            {"name": "vip", "when": {"tags_any": ["vip"], "channel": ["email"]}, "metrics": rule},
            {"name": "email", "when": {"channel": ["email"]}, "metrics": rule},
            {
                "name": "berlin-urgent",
                "when": {"location": ["Berlin"], "priority": ["urgent"]},
                "metrics": rule,
            },
        ]
    )
    created = at("2026-03-03 14:00")
    tickets = interactions(
        [
            {"interaction_id": "1", "created_at": created, "channel": "email", "tags": ["vip", "x"]},
            {"interaction_id": "2", "created_at": created, "channel": "email", "tags": []},
            {"interaction_id": "3", "created_at": created, "channel": "chat", "tags": ["vip"]},
            {"interaction_id": "4", "created_at": created, "location": "Berlin", "priority": "urgent"},
            {"interaction_id": "5", "created_at": created, "location": "Berlin", "priority": "low"},
        ]
    )
    result = evaluate(tickets, events([]), config, NOW).filter(pl.col("metric") == "resolution").collect()
    policies = dict(zip(result["interaction_id"], result["policy"], strict=True))
    assert policies == {"1": "vip", "2": "email", "3": "standard", "4": "berlin-urgent", "5": "standard"}


def test_business_hours_use_the_location_calendar() -> None:
    config = _config(
        calendars={
            "berlin": {"timezone": "Europe/Berlin", "hours": {"mon": ["09:00-17:00"], "tue": ["09:00-17:00"]}}
        },
        default_calendar="berlin",
        location_calendars={"Berlin": "berlin"},
        fallback={"name": "f", "metrics": {"resolution": {"targets": {"default": 600}}}},
    )
    tickets = interactions(
        [{"interaction_id": "x", "created_at": at("2026-03-02 15:00"), "location": "Berlin"}]
    )
    result = evaluate_detailed(tickets, events([]), config, NOW).collect()
    row = result.row(0, named=True)
    # Mon 16:00-17:00 CET + Tue 09:00-16:00 CET (NOW is 15:00 UTC) = 1 h + 7 h.
    assert (row["elapsed_minutes"], row["calendar"], row["status"]) == (480, "berlin", "at_risk")
    # 120 minutes left: Tue 16:00-17:00, then Monday 09:00-10:00 Berlin time (09:00 UTC).
    assert row["due_at"] == at("2026-03-09 09:00")


def test_subset_re_evaluation_equals_the_full_evaluation_for_those_ids(result: pl.DataFrame) -> None:
    subset = evaluate_subset(TICKETS, HISTORY, _config(), NOW, ["a", "c"]).collect()
    expected = result.filter(pl.col("interaction_id").is_in(["a", "c"]))
    key = ["interaction_id", "metric", "cycle"]
    assert subset.sort(key).equals(expected.sort(key))


def test_evaluation_is_retroactive_and_as_of_now() -> None:
    stricter = _config(
        fallback={
            "name": "s",
            "metrics": {"first_response": {"targets": {"default": 30}, "business_hours": False}},
        }
    )
    row = _row(evaluate(TICKETS, HISTORY, stricter, NOW).collect(), "a", "first_response")
    assert (row["policy"], row["status"]) == ("s", "breached")
    earlier = _row(
        evaluate(TICKETS, HISTORY, _config(), at("2026-03-02 08:45")).collect(), "a", "first_response"
    )
    assert (earlier["status"], earlier["elapsed_minutes"], earlier["completed_at"]) == ("running", 45, None)


def test_zero_length_interaction_and_timeline() -> None:
    tickets = interactions([{"interaction_id": "z", "created_at": NOW}])
    row = _row(evaluate(tickets, events([]), _config(), NOW).collect(), "z", "resolution")
    assert (row["elapsed_minutes"], row["status"]) == (0, "running")
    lines = timeline(TICKETS, HISTORY, _config(), NOW, "a").filter(pl.col("metric") == "resolution")
    assert lines["state"].to_list() == ["counting", "paused", "counting", "counting"]
    assert lines["business_minutes"].sum() == 300
    assert lines["cycle"].to_list() == [1, 1, 1, 2]


def test_a_clock_starting_before_the_calendar_range_is_not_applicable_not_zero() -> None:
    config = _config(
        calendars={"b": {"timezone": "Europe/Berlin", "hours": {"mon": ["09:00-17:00"]}}},
        default_calendar="b",
        fallback={
            "name": "f",
            "metrics": {
                "resolution": {"targets": {"default": 60}},
                "first_response": {"targets": {"default": 60}},
            },
        },
    )
    tickets = interactions(
        [{"interaction_id": "old", "created_at": at("2024-06-01 10:00")}]
    )  # before history_from
    result = evaluate(tickets, events([]), config, NOW).collect()
    assert result["status"].to_list() == ["not_applicable", "not_applicable"]
    assert result["elapsed_minutes"].null_count() == 2
