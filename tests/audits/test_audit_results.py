"""Wilson intervals, sample sizes and plan checks, and results by unit and item."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from audit_frames import T0, interactions_frame
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.proportion import proportion_confint

from audits.config import AuditsConfig, PrecisionTarget
from audits.defaults import DEFAULT_SCORECARD
from audits.results import item_results, review_frames, score_trend, scores_by
from audits.scoring import ItemRating, Review, decide_dispute, open_dispute, revise_review
from audits.stats import achieved_margin, plan_check, required_sample_size, wilson_bounds, wilson_interval

AT = datetime(2026, 3, 20, 10, tzinfo=UTC)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 500), data=st.data(), confidence=st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_wilson_matches_statsmodels(n: int, data: st.DataObject, confidence: float) -> None:
    k = data.draw(st.integers(0, n))
    low, high = proportion_confint(k, n, alpha=1 - confidence, method="wilson")
    assert wilson_interval(k, n, confidence) == pytest.approx((low, high), abs=1e-12)
    frame = pl.DataFrame({"rate": [k / n], "n": [n]})
    lo, hi = wilson_bounds(pl.col("rate"), pl.col("n"), confidence)
    assert frame.select(lo, hi).row(0) == pytest.approx((low, high), abs=1e-12)


def test_wilson_without_observations_is_empty() -> None:
    assert wilson_interval(0, 0) is None
    lo, hi = wilson_bounds(pl.col("rate"), pl.col("n"))
    assert pl.DataFrame({"rate": [None], "n": [0]}).select(lo, hi).row(0) == (None, None)


def test_sample_size_formula() -> None:
    assert required_sample_size(0.05) == 385  # 1.96^2 * .25 / .0025 = 384.15
    assert required_sample_size(0.10) == 97
    assert required_sample_size(0.05, confidence=0.90, expected_rate=0.2) == 174  # 1.645^2*.16/.0025 = 173.2
    assert required_sample_size(0.05, population=1000) == 279  # 385 / (1 + 384/1000) = 278.2
    assert required_sample_size(0.05, population=0) == 0
    assert achieved_margin(97) == pytest.approx(0.0995, abs=1e-4)
    with pytest.raises(ValueError, match="margin"):
        required_sample_size(0)


def test_plan_check_says_which_units_get_enough_audits() -> None:
    planned = pl.DataFrame({"agent": ["ann", "bo"], "planned": [97, 20]})
    population = pl.DataFrame({"agent": ["ann", "bo", "cy"], "population": [5000, 25, 300]})
    out = plan_check(planned, PrecisionTarget(margin=0.1), unit="agent", population=population)
    rows = {r["agent"]: r for r in out.iter_rows(named=True)}
    assert rows["ann"]["required"] == 96 and rows["ann"]["meets"]  # 97 / (1 + 96/5000) = 95.2
    assert (
        rows["bo"]["required"] == 21 and rows["bo"]["shortfall"] == 1
    )  # 97 / (1 + 96/25) = 20.04, rounded up
    assert not rows["bo"]["meets"]
    assert rows["cy"]["planned"] == 0 and rows["cy"]["shortfall"] == 74 and not rows["cy"]["meets"]
    assert rows["cy"]["achieved_margin"] is None
    no_population = plan_check(planned, PrecisionTarget(margin=0.1), unit="agent")
    assert no_population["required"].to_list() == [97, 97]
    assert no_population["meets"].to_list() == [True, False]


def full_review(
    review_id: str, interaction_id: str, auditor: str, overrides: dict[str, int | None]
) -> Review:
    ratings = []
    for item in DEFAULT_SCORECARD.items:
        ratings.append(ItemRating(item.id, overrides.get(item.id, item.scale.high)))
    return Review(review_id, interaction_id, auditor, "service-principles", 1, tuple(ratings), AT)


@pytest.fixture
def interactions() -> pl.DataFrame:
    rows = [
        {"interaction_id": "demo:1", "location": "Leeds", "team": "Tills", "agent": "ann", "created_at": T0},
        {"interaction_id": "demo:2", "location": "Leeds", "team": "Returns", "agent": "bo", "created_at": T0},
        {"interaction_id": "demo:3", "location": "York", "team": "Returns", "agent": "bo",
         "created_at": T0 + timedelta(days=7)},
    ]  # fmt: skip
    return interactions_frame(rows)


def test_results_by_location_item_and_week(interactions: pl.DataFrame) -> None:
    config = AuditsConfig()
    perfect = full_review("r1", "demo:1", "Ines", {})
    no_greeting = full_review("r2", "demo:2", "Ines", {"greeting": 0})
    rude = full_review("r3", "demo:3", "Jon", {"greeting": 0, "professional_tone": 1})
    frames = review_frames([perfect, no_greeting, rude], config.scorecard)
    total = sum(item.weight for item in DEFAULT_SCORECARD.items)
    scores = dict(zip(frames.scores["review_id"], frames.scores["score"], strict=True))
    assert scores == {"r1": 1.0, "r2": pytest.approx(1 - 1 / total), "r3": 0.0}
    assert frames.items.height == 3 * len(DEFAULT_SCORECARD.items)

    by_location = scores_by(frames.scores, interactions, ["location"], pass_mark=0.8)
    leeds = by_location.row(0, named=True)
    assert (leeds["location"], leeds["n"], leeds["review_ids"]) == ("Leeds", 2, ["r1", "r2"])
    assert leeds["mean_score"] == pytest.approx((2 - 1 / total) / 2)
    assert leeds["pass_rate"] == 1.0
    assert (leeds["pass_low"], leeds["pass_high"]) == pytest.approx(wilson_interval(2, 2))
    york = by_location.row(1, named=True)
    assert (york["n"], york["critical_failures"], york["pass_rate"]) == (1, 1, 0.0)

    items = item_results(frames.items)
    weakest = items.row(0, named=True)
    assert weakest["item_id"] == "greeting" and weakest["mean"] == pytest.approx(1 / 3)
    assert weakest["review_ids"] == ["r1", "r2", "r3"] and weakest["n"] == 3
    by_team = item_results(frames.items, interactions, ["team"]).filter(pl.col("item_id") == "greeting")
    assert dict(zip(by_team["team"], by_team["mean"], strict=True)) == {"Returns": 0.0, "Tills": 1.0}

    trend = score_trend(frames.scores, interactions, every="1w")
    assert trend["n"].to_list() == [2, 1]


def test_frames_use_the_latest_revision_and_accepted_disputes(interactions: pl.DataFrame) -> None:
    config = AuditsConfig()
    first = full_review("r1", "demo:1", "Ines", {"greeting": 0})
    second = revise_review(
        first,
        full_review("r1", "demo:1", "Ines", {"greeting": 0, "thanks_at_close": 0}).ratings,
        edited_by="Ines",
        edited_at=AT + timedelta(hours=1),
        reason="missed the closing",
        scorecard=DEFAULT_SCORECARD,
    )
    dispute = open_dispute(
        second, DEFAULT_SCORECARD, dispute_id="d1", item_id="greeting", raised_by="Mo", raised_at=AT,
        comment="greeted on the phone", proposed_rating=1,
    )  # fmt: skip
    accepted = decide_dispute(dispute, accept=True, decided_by="Ada", decided_at=AT + timedelta(days=1))
    frames = review_frames([first, second], config.scorecard, [accepted])
    total = sum(item.weight for item in DEFAULT_SCORECARD.items)
    row = frames.scores.row(0, named=True)
    assert frames.scores.height == 1
    assert (row["revision"], row["accepted_disputes"]) == (2, 1)
    assert row["score"] == pytest.approx(1 - 1 / total)  # only thanks_at_close (weight 1) still fails
