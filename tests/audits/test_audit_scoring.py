"""Scorecards, the review score formula, N/A and critical rules, revisions and disputes."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from audits.config import AuditsConfig, Scale, Scorecard, ScorecardCategory, ScorecardItem
from audits.defaults import DEFAULT_SCORECARD
from audits.scoring import (
    DisputeStatus,
    ItemRating,
    Review,
    ReviewError,
    current_revisions,
    decide_dispute,
    effective_score,
    open_dispute,
    revise_review,
    score_review,
)
from servicelens.config import format_location

AT = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)

CARD = Scorecard(
    id="small",
    version=2,
    label="Small",
    categories=[
        ScorecardCategory(
            id="all",
            label="All",
            items=[
                ScorecardItem(id="a", label="A"),
                ScorecardItem(id="b", label="B", scale=Scale.THREE_POINT, weight=2),
                ScorecardItem(id="c", label="C", scale=Scale.FIVE_POINT, allow_na=True),
                ScorecardItem(id="d", label="D", scale=Scale.FOUR_POINT, weight=2, critical=True),
            ],
        )
    ],
)


def review(
    a: int | None = 1, b: int | None = 2, c: int | None = 4, d: int | None = 3, **kw: object
) -> Review:
    ratings = tuple(ItemRating(i, r) for i, r in zip("abcd", (a, b, c, d), strict=True))
    fields: dict = {"review_id": "r1", "interaction_id": "demo:1", "auditor": "Ines", "scorecard_id": "small"}
    fields.update(scorecard_version=2, ratings=ratings, scored_at=AT)
    fields.update(kw)
    return Review(**fields)


def test_score_is_the_weighted_mean_of_normalised_ratings() -> None:
    # a=1 -> 1.0 (w1), b=2 of 3 -> 0.5 (w2), c=4 of 5 -> 0.75 (w1), d=3 of 4 -> 2/3 (w2)
    result = score_review(review(), CARD)
    assert result.score == pytest.approx((1.0 * 1 + 0.5 * 2 + 0.75 * 1 + (2 / 3) * 2) / 6)
    assert result.score == pytest.approx(0.6805556, abs=1e-7)
    assert result.applicable_weight == 6
    assert result.normalised == {"a": 1.0, "b": 0.5, "c": 0.75, "d": pytest.approx(2 / 3)}


def test_not_applicable_items_leave_numerator_and_denominator() -> None:
    result = score_review(review(c=None), CARD)
    assert result.score == pytest.approx((1.0 + 0.5 * 2 + (2 / 3) * 2) / 5)
    assert result.applicable_weight == 5
    assert result.normalised["c"] is None


def test_not_applicable_is_refused_where_the_item_does_not_allow_it() -> None:
    with pytest.raises(ReviewError, match=r"review r1: item 'b' cannot be marked N/A"):
        score_review(review(b=None), CARD)


def test_failed_critical_item_zeroes_the_score_but_keeps_the_raw_score() -> None:
    result = score_review(review(d=1), CARD)
    assert result.score == 0.0
    assert result.critical_failures == ("d",)
    assert result.raw_score == pytest.approx((1.0 + 0.5 * 2 + 0.75) / 6)


def test_critical_threshold_can_be_raised() -> None:
    strict_item = ScorecardItem(
        id="d", label="D", scale=Scale.FOUR_POINT, critical=True, critical_fail_at_or_below=2
    )
    card = CARD.model_copy(
        update={
            "categories": [ScorecardCategory(id="all", label="All", items=[*CARD.items[:3], strict_item])]
        }
    )
    assert score_review(review(d=2), card).score == 0.0
    assert score_review(review(d=3), card).score > 0


def test_all_items_not_applicable_gives_no_score() -> None:
    card = Scorecard(
        id="na",
        label="NA",
        categories=[
            ScorecardCategory(id="x", label="X", items=[ScorecardItem(id="a", label="A", allow_na=True)])
        ],
    )
    result = score_review(
        Review("r", "i", "Ines", "na", 1, (ItemRating("a", None),), AT),
        card,
    )
    assert result.score is None and result.raw_score is None


@pytest.mark.parametrize(
    ("ratings", "message"),
    [
        ({"b": 4}, r"item 'b': rating 4 is outside its 3-point scale 1\.\.3"),
        ({"a": 2}, r"item 'a': rating 2 is outside its binary scale 0\.\.1"),
        ({"c": 0}, r"item 'c': rating 0 is outside its 5-point scale 1\.\.5"),
    ],
)
def test_out_of_scale_ratings_name_the_item(ratings: dict[str, int], message: str) -> None:
    with pytest.raises(ReviewError, match=message):
        score_review(review(**ratings), CARD)  # type: ignore[arg-type]


def test_incomplete_or_foreign_reviews_are_rejected() -> None:
    partial = review()
    partial = Review(**{**partial.__dict__, "ratings": partial.ratings[:3]})
    with pytest.raises(ReviewError, match="not rated: d"):
        score_review(partial, CARD)
    with pytest.raises(ReviewError, match="scored on small v1, not small v2"):
        score_review(review(scorecard_version=1), CARD)
    extra = Review(**{**review().__dict__, "ratings": (*review().ratings, ItemRating("zz", 1))})
    with pytest.raises(ReviewError, match="unknown item"):
        score_review(extra, CARD)


def test_revisions_keep_history_and_the_latest_counts() -> None:
    first = review()
    second = revise_review(
        first,
        review(b=3).ratings,
        edited_by="Ines",
        edited_at=AT + timedelta(hours=1),
        reason="re-listened to the call",
        scorecard=CARD,
    )
    assert (second.revision, second.edited_by, first.revision) == (2, "Ines", 1)
    assert current_revisions([second, first]) == [second]
    assert score_review(second, CARD).score > score_review(first, CARD).score
    with pytest.raises(ReviewError, match="needs a reason"):
        revise_review(first, first.ratings, edited_by="I", edited_at=AT, reason=" ", scorecard=CARD)


def test_dispute_changes_the_score_only_when_accepted() -> None:
    scored = review(b=1)
    dispute = open_dispute(
        scored,
        CARD,
        dispute_id="d1",
        item_id="b",
        raised_by="manager Mo",
        raised_at=AT + timedelta(days=1),
        comment="The agent did restate the issue in the second reply",
        proposed_rating=3,
    )
    before = effective_score(scored, CARD, [dispute]).score
    assert before == score_review(scored, CARD).score
    rejected = decide_dispute(
        dispute, accept=False, decided_by="arbiter Ada", decided_at=AT + timedelta(days=2)
    )
    assert rejected.status is DisputeStatus.REJECTED
    assert effective_score(scored, CARD, [rejected]).score == before
    accepted = decide_dispute(
        dispute, accept=True, decided_by="arbiter Ada", decided_at=AT + timedelta(days=2)
    )
    after = effective_score(scored, CARD, [accepted]).score
    assert after == pytest.approx(before + (1.0 * 2) / 6)
    with pytest.raises(ReviewError, match="already accepted"):
        decide_dispute(accepted, accept=False, decided_by="arbiter Ada", decided_at=AT)
    with pytest.raises(ReviewError, match="cannot decide it"):
        decide_dispute(dispute, accept=True, decided_by="manager Mo", decided_at=AT)


def test_dispute_can_lift_a_critical_failure() -> None:
    failed = review(d=1)
    dispute = open_dispute(
        failed,
        CARD,
        dispute_id="d2",
        item_id="d",
        raised_by="Mo",
        raised_at=AT,
        comment="correct",
        proposed_rating=4,
    )
    accepted = decide_dispute(dispute, accept=True, decided_by="Ada", decided_at=AT)
    assert score_review(failed, CARD).score == 0.0
    assert effective_score(failed, CARD, [accepted]).score == pytest.approx((1 + 1 + 0.75 + 2) / 6)


def test_dispute_must_fit_the_item() -> None:
    with pytest.raises(ReviewError, match="cannot be marked N/A"):
        open_dispute(
            review(),
            CARD,
            dispute_id="x",
            item_id="b",
            raised_by="Mo",
            raised_at=AT,
            comment="n/a",
            proposed_rating=None,
        )
    with pytest.raises(ReviewError, match="outside its 3-point scale"):
        open_dispute(
            review(),
            CARD,
            dispute_id="x",
            item_id="b",
            raised_by="Mo",
            raised_at=AT,
            comment="x",
            proposed_rating=7,
        )


def test_default_scorecard_covers_the_service_principles() -> None:
    ids = {item.id for item in DEFAULT_SCORECARD.items}
    principles = {
        "greeting", "empathy", "active_listening", "clear_communication", "product_knowledge",
        "solution_offered", "follow_up", "professional_tone", "thanks_at_close", "correct_escalation",
    }  # fmt: skip
    assert principles <= ids
    assert {item.id for item in DEFAULT_SCORECARD.items if item.critical} == {
        "product_knowledge",
        "professional_tone",
    }


def test_empty_audits_section_validates_with_defaults() -> None:
    audits = AuditsConfig.model_validate({})
    assert audits.current_scorecard() == DEFAULT_SCORECARD
    assert {check.name for check in audits.checks} >= {"greeting", "apology_for_delay", "thanks_at_close"}


def test_newest_scorecard_version_is_current_and_old_versions_stay_available() -> None:
    v2 = DEFAULT_SCORECARD.model_copy(update={"version": 2})
    config = AuditsConfig(scorecards=[DEFAULT_SCORECARD, v2])
    assert config.current_scorecard().version == 2
    assert config.scorecard("service-principles", 1) == DEFAULT_SCORECARD


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"default_scorecard": "nope"}, "default_scorecard 'nope' is not among the scorecards"),
        ({"checks": [{"name": "g", "type": "phrases", "item": "missing", "phrases": {"en": ["hi"]}}]},
         "refers to item 'missing'"),
        ({"checks": [{"name": "g", "type": "bogus"}]}, "unknown check type 'bogus'"),
        ({"checks": [{"name": "g", "type": "phrases"}]}, "needs at least one phrase"),
        ({"checks": [{"name": "g", "type": "regex", "patterns": {"en": ["(unclosed"]}}]},
         r"patterns\.en: '\(unclosed' is not a valid regular expression"),
        ({"checks": [{"name": "g", "type": "phrases", "phrases": {"en": ["hi"]}, "when": ["raining"]}]},
         "unknown condition"),
        ({"scorecards": [{"id": "x", "label": "X", "categories": [{"id": "c", "label": "C", "items": [
            {"id": "a", "label": "A", "scale": "7-point"}]}]}], "default_scorecard": "x", "checks": []},
         r"scorecards\[0\]\.categories\[0\]\.items\[0\]\.scale"),
        ({"scorecards": [{"id": "x", "label": "X", "categories": [{"id": "c", "label": "C", "items": [
            {"id": "a", "label": "A"}, {"id": "a", "label": "B"}]}]}], "default_scorecard": "x", "checks": []},
         "item id 'a' appears more than once"),
        ({"sampling": {"strata": ["agent"], "colour": 1}}, r"sampling\.colour"),
    ],
)  # fmt: skip
def test_bad_audit_config_names_path_and_problem(section: dict, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        AuditsConfig.model_validate(section)
    errors = [f"{format_location(e['loc'])}: {e['msg']}" for e in caught.value.errors()]
    assert any(re.search(message, error) for error in errors), errors
