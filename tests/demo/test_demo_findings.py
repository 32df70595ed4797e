"""The demo behaves like a service organisation: surveys, repeat contacts, protocol and planted findings."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import numpy as np
import polars as pl

from servicelens.demo import PLANTED_FINDINGS, PROTOCOL_PHRASES
from servicelens.demo.clock import BusinessClock, build_site_days
from servicelens.demo.organisation import LOCATION_NAMES, LOCATIONS
from servicelens.demo.planted import CSAT_DRIFT_DAYS
from servicelens.demo.transcripts import GREETINGS_WITH_NAME, GREETINGS_WITHOUT_NAME
from tests.demo.conftest import DEMO_END

Frames = tuple[pl.DataFrame, pl.DataFrame]
ASYNC = ("email", "web", "social")
GREETING_PATTERN = (
    "^(" + "|".join(g.split(" ")[0].rstrip(",") for g in GREETINGS_WITH_NAME + GREETINGS_WITHOUT_NAME) + ")"
)


def _hours(later: str, earlier: str) -> pl.Expr:
    return (pl.col(later) - pl.col(earlier)).dt.total_seconds() / 3600


def _first_replies(demo: Frames) -> pl.DataFrame:
    interactions, events = demo
    return (
        events.filter(pl.col("type") == "agent_reply")
        .group_by("interaction_id")
        .first()
        .join(interactions, on="interaction_id")
    )


def _rate_by(frame: pl.DataFrame, dimension: str, value: str, measure: pl.Expr) -> tuple[float, list[float]]:
    """The measure of ``value`` and of every other group of ``dimension``."""
    per_group = frame.group_by(dimension).agg(measure.alias("m")).rows_by_key(dimension)
    planted = per_group.pop(value)[0][0]
    return planted, [row[0][0] for row in per_group.values()]


def test_survey_answers_have_a_realistic_share_and_follow_service_quality(demo: Frames) -> None:
    interactions, _ = demo
    share = interactions["csat"].is_not_null().mean()
    assert share is not None and 0.25 <= share <= 0.35
    assert interactions["csat"].drop_nulls().is_between(1, 5).all()
    assert interactions["nps"].drop_nulls().is_between(0, 10).all()
    assert interactions["ces"].drop_nulls().is_between(1, 7).all()
    assert (
        interactions.filter(pl.col("resolved_at").is_null())["csat"].null_count()
        == interactions.filter(pl.col("resolved_at").is_null()).height
    )
    by_reopen = interactions.group_by(pl.col("reopens") > 0).agg(pl.col("csat", "nps", "ces").mean())
    good, bad = by_reopen.filter(~pl.col("reopens")).row(0), by_reopen.filter(pl.col("reopens")).row(0)
    assert all(g > b + 0.3 for g, b in zip(good[1:], bad[1:], strict=True))


def test_repeat_contacts_within_a_week_follow_poor_resolution(demo: Frames) -> None:
    interactions, _ = demo
    nxt = (
        interactions.sort("customer", "created_at")
        .with_columns(pl.col("created_at").shift(-1).over("customer").alias("next_contact"))
        .with_columns(repeat=_hours("next_contact", "created_at") <= 7 * 24)
    )
    assert 0.05 <= (nxt["repeat"].fill_null(False).mean() or 0) <= 0.3
    rates = (
        nxt.group_by(pl.col("reopens") > 0)
        .agg(pl.col("repeat").fill_null(False).mean())
        .rows_by_key("reopens")
    )
    assert rates[True][0] > 2 * rates[False][0]


def test_protocol_phrases_depend_on_what_happened(demo: Frames) -> None:
    first = _first_replies(demo).with_columns(frt=_hours("first_response_at", "created_at"))
    apologised = first.filter(pl.col("body").str.contains(PROTOCOL_PHRASES["apology"], literal=True))
    assert apologised.height > 0
    assert (apologised["frt"].min() or 0) > 0.9  # only after a slow first reply
    assert first.filter(pl.col("frt") < 0.5)["body"].str.contains(PROTOCOL_PHRASES["apology"]).sum() == 0

    _, events = demo
    texts = (
        events.filter(pl.col("type") == "agent_reply")
        .group_by("interaction_id", maintain_order=True)
        .agg(
            pl.col("body").str.contains(PROTOCOL_PHRASES["follow_up_promise"]).arg_max().alias("promise_at"),
            pl.col("body").str.contains(PROTOCOL_PHRASES["follow_up_promise"]).any().alias("promised"),
            pl.col("body").str.contains(PROTOCOL_PHRASES["follow_up_done"]).any().alias("followed"),
        )
    )
    assert texts.filter(pl.col("followed") & ~pl.col("promised")).height == 0
    kept = texts.filter(pl.col("promised"))["followed"].mean()
    assert kept is not None and 0.5 < kept < 0.98  # most promises are kept, not all


def test_agents_have_individual_adherence(demo: Frames) -> None:
    first = _first_replies(demo).filter(pl.col("team") != "Returns & Refunds")
    per_agent = first.group_by("agent").agg(
        pl.col("body").str.contains(PROTOCOL_PHRASES["empathy"], literal=True).mean().alias("empathy")
    )
    assert (per_agent["empathy"].max() or 0) - (per_agent["empathy"].min() or 0) > 0.3


def _business_hours(frame: pl.DataFrame, later: str, earlier: str) -> pl.Series:
    """Open hours of the interaction's site between two columns (the demo's own opening-hours clock)."""
    first_day = frame[earlier].min().date() - timedelta(days=2)  # type: ignore[union-attr]
    clock = BusinessClock(build_site_days(LOCATIONS, first_day, DEMO_END + timedelta(days=30)))
    site = frame["location"].replace_strict(LOCATION_NAMES, range(len(LOCATION_NAMES))).to_numpy()

    def position(column: str) -> np.ndarray:
        return clock.position(site, frame[column].dt.epoch("s").to_numpy().astype(np.float64))

    return pl.Series((position(later) - position(earlier)) / 3600)


def _slow_first_response(demo: Frames) -> tuple[float, list[float]]:
    interactions, _ = demo
    rows = interactions.filter(pl.col("channel").is_in(ASYNC), pl.col("first_response_at").is_not_null())
    rows = rows.with_columns(frt=_business_hours(rows, "first_response_at", "created_at"))
    return _rate_by(rows, "location", "Manchester", pl.col("frt").median())


def _greeting_skipped(demo: Frames) -> tuple[float, list[float]]:
    first = _first_replies(demo)
    return _rate_by(first, "team", "Returns & Refunds", pl.col("body").str.contains(GREETING_PATTERN).mean())


def _csat_drift(demo: Frames) -> tuple[float, list[float]]:
    """Change of mean CSAT from the quarter before the drift to the last month; planted first."""
    interactions, _ = demo
    end = pl.lit(DEMO_END).cast(pl.Datetime("us", "UTC"))
    drift_start = end - pl.duration(days=CSAT_DRIFT_DAYS)
    before = pl.col("csat").filter(
        pl.col("created_at").is_between(drift_start - pl.duration(days=91), drift_start)
    )
    last_month = pl.col("csat").filter(pl.col("created_at") >= end - pl.duration(days=30))
    return _rate_by(interactions, "location", "Melbourne", last_month.mean() - before.mean())


def _under_escalation(demo: Frames) -> tuple[float, list[float]]:
    interactions, _ = demo
    urgent = interactions.filter(
        pl.col("priority") == "urgent", pl.col("channel").is_in(ASYNC), pl.col("resolved_at").is_not_null()
    )
    urgent = urgent.with_columns(resolution=_business_hours(urgent, "resolved_at", "created_at"))
    return _rate_by(urgent, "team", "Payments", pl.col("resolution").median())


def _frequent_reopens(demo: Frames) -> tuple[float, list[float]]:
    interactions, _ = demo
    return _rate_by(interactions, "location", "Chicago", (pl.col("reopens") > 0).mean())


FINDING_CHECKS: dict[
    str, tuple[Callable[[Frames], tuple[float, list[float]]], Callable[[float, float], bool]]
] = {
    "slow_first_response": (_slow_first_response, lambda planted, other: planted > 2 * other),
    "greeting_skipped": (_greeting_skipped, lambda planted, other: planted < 0.35 and other > 0.75),
    "csat_drift": (_csat_drift, lambda planted, other: planted < -0.8 and abs(other) < 0.35),
    "under_escalation": (_under_escalation, lambda planted, other: planted > 2 * other),
    "frequent_reopens": (_frequent_reopens, lambda planted, other: planted > 2 * other),
}


def test_every_planted_finding_is_checked() -> None:
    assert {f.key for f in PLANTED_FINDINGS} == set(FINDING_CHECKS)
    by_key = {f.key: f for f in PLANTED_FINDINGS}
    assert by_key["greeting_skipped"].value == "Returns & Refunds"
    assert by_key["slow_first_response"].value == "Manchester"
    assert by_key["csat_drift"].value == "Melbourne"
    assert by_key["under_escalation"].value == "Payments"
    assert by_key["frequent_reopens"].value == "Chicago"


def test_planted_findings_stand_out_against_every_other_group(demo: Frames) -> None:
    for key, (measure, stands_out) in FINDING_CHECKS.items():
        planted, others = measure(demo)
        assert others, key
        failing = [other for other in others if not stands_out(planted, other)]
        assert not failing, f"{key}: planted {planted:.3f} does not stand out against {failing}"
