"""Reviews, their score, edits with history, and disputes. Pure values and functions; storage is elsewhere.

Review score (0..1)::

    score = sum(normalised(rating_i) * weight_i) / sum(weight_i)   over the items not marked N/A
    score = 0                                                        when any critical item failed
    normalised(rating) = (rating - scale_low) / (scale_high - scale_low)

Binary items are rated 0/1, n-point items 1..n. A critical item fails when rated at or below its
``critical_fail_at_or_below`` (default: the bottom of its scale). A review whose items are all N/A has no
score (None). A dispute changes a rating only once an arbitrator accepts it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from audits.config import Scorecard, ScorecardItem


class ReviewError(ValueError):
    """A review that does not fit its scorecard; the message names the review and the item."""


@dataclass(frozen=True)
class ItemRating:
    item_id: str
    rating: int | None  # None: not applicable (N/A)
    comment: str = ""


@dataclass(frozen=True)
class Review:
    """One auditor's scoring of one interaction. Edits create a new revision; old revisions are kept."""

    review_id: str
    interaction_id: str
    auditor: str
    scorecard_id: str
    scorecard_version: int
    ratings: tuple[ItemRating, ...]
    scored_at: datetime
    comment: str = ""
    revision: int = 1
    edited_by: str | None = None
    edit_reason: str = ""

    def rating_for(self, item_id: str) -> ItemRating | None:
        return next((r for r in self.ratings if r.item_id == item_id), None)


@dataclass(frozen=True)
class ReviewScore:
    score: float | None  # None when every item is N/A
    raw_score: float | None  # the weighted mean before the critical rule
    applicable_weight: float
    critical_failures: tuple[str, ...]
    normalised: Mapping[str, float | None] = field(default_factory=dict)  # item -> 0..1, None for N/A

    @property
    def critical_failed(self) -> bool:
        return bool(self.critical_failures)


def normalise(item: ScorecardItem, rating: int) -> float:
    """Map a rating onto 0..1 for its item's scale; errors name the item and the allowed range."""
    low, high = item.scale.low, item.scale.high
    if isinstance(rating, bool) or not isinstance(rating, int) or not low <= rating <= high:
        raise ReviewError(
            f"item {item.id!r}: rating {rating!r} is outside its {item.scale.value} scale {low}..{high}"
        )
    return (rating - low) / (high - low)


def validate_review(review: Review, scorecard: Scorecard) -> None:
    """Raise :class:`ReviewError` unless the review rates exactly the scorecard's items, within scale."""
    where = f"review {review.review_id}"
    if (review.scorecard_id, review.scorecard_version) != (scorecard.id, scorecard.version):
        raise ReviewError(
            f"{where}: scored on {review.scorecard_id} v{review.scorecard_version}, "
            f"not {scorecard.id} v{scorecard.version}"
        )
    ids = [r.item_id for r in review.ratings]
    known = {item.id for item in scorecard.items}
    if unknown := sorted(set(ids) - known):
        raise ReviewError(f"{where}: unknown item(s) {', '.join(unknown)}")
    if twice := sorted({i for i in ids if ids.count(i) > 1}):
        raise ReviewError(f"{where}: item(s) rated twice: {', '.join(twice)}")
    if missing := [item.id for item in scorecard.items if item.id not in ids]:
        raise ReviewError(f"{where}: item(s) not rated: {', '.join(missing)}")
    for rating in review.ratings:
        item = scorecard.item(rating.item_id)
        if rating.rating is None:
            if not item.allow_na:
                raise ReviewError(f"{where}: item {item.id!r} cannot be marked N/A")
            continue
        try:
            normalise(item, rating.rating)
        except ReviewError as exc:
            raise ReviewError(f"{where}: {exc}") from None


def score_ratings(ratings: Iterable[ItemRating], scorecard: Scorecard) -> ReviewScore:
    """Apply the score formula to a complete set of ratings (see the module docstring)."""
    normalised: dict[str, float | None] = {}
    weighted = weight = 0.0
    critical: list[str] = []
    for rating in ratings:
        item = scorecard.item(rating.item_id)
        if rating.rating is None:
            normalised[item.id] = None
            continue
        value = normalise(item, rating.rating)
        normalised[item.id] = value
        weighted += value * item.weight
        weight += item.weight
        if item.critical and rating.rating <= item.critical_threshold:
            critical.append(item.id)
    raw = weighted / weight if weight > 0 else None
    score = 0.0 if critical else raw
    return ReviewScore(score, raw, weight, tuple(critical), normalised)


def score_review(review: Review, scorecard: Scorecard) -> ReviewScore:
    validate_review(review, scorecard)
    return score_ratings(review.ratings, scorecard)


def revise_review(
    review: Review,
    ratings: Sequence[ItemRating],
    *,
    edited_by: str,
    edited_at: datetime,
    reason: str,
    scorecard: Scorecard,
    comment: str | None = None,
) -> Review:
    """The next revision of a review; the caller stores it beside the old one, which stays as history."""
    if not reason.strip():
        raise ReviewError(f"review {review.review_id}: an edit needs a reason")
    if edited_at < review.scored_at:
        raise ReviewError(
            f"review {review.review_id}: edit at {edited_at} precedes revision {review.revision}"
        )
    revised = replace(
        review,
        ratings=tuple(ratings),
        scored_at=edited_at,
        comment=review.comment if comment is None else comment,
        revision=review.revision + 1,
        edited_by=edited_by,
        edit_reason=reason,
    )
    validate_review(revised, scorecard)
    return revised


def current_revisions(reviews: Iterable[Review]) -> list[Review]:
    """The latest revision of each review id (history rows are dropped)."""
    latest: dict[str, Review] = {}
    for review in reviews:
        kept = latest.get(review.review_id)
        if kept is None or review.revision > kept.revision:
            latest[review.review_id] = review
    return list(latest.values())


class DisputeStatus(StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Dispute:
    """A manager's challenge of one item of a review, with the rating they propose (None = N/A)."""

    dispute_id: str
    review_id: str
    item_id: str
    raised_by: str
    raised_at: datetime
    comment: str
    proposed_rating: int | None
    status: DisputeStatus = DisputeStatus.OPEN
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_comment: str = ""


def open_dispute(
    review: Review,
    scorecard: Scorecard,
    *,
    dispute_id: str,
    item_id: str,
    raised_by: str,
    raised_at: datetime,
    comment: str,
    proposed_rating: int | None,
) -> Dispute:
    """A new open dispute, checked against the review's scorecard."""
    item = scorecard.item(item_id)
    if not comment.strip():
        raise ReviewError(f"review {review.review_id}: a dispute of {item_id!r} needs a comment")
    if proposed_rating is None and not item.allow_na:
        raise ReviewError(f"review {review.review_id}: item {item_id!r} cannot be marked N/A")
    if proposed_rating is not None:
        normalise(item, proposed_rating)
    return Dispute(dispute_id, review.review_id, item_id, raised_by, raised_at, comment, proposed_rating)


def decide_dispute(
    dispute: Dispute, *, accept: bool, decided_by: str, decided_at: datetime, comment: str = ""
) -> Dispute:
    """The arbitrator's decision; a dispute is decided once."""
    if dispute.status is not DisputeStatus.OPEN:
        raise ReviewError(f"dispute {dispute.dispute_id} was already {dispute.status.value}")
    if decided_by == dispute.raised_by:
        raise ReviewError(f"dispute {dispute.dispute_id}: the person who raised it cannot decide it")
    status = DisputeStatus.ACCEPTED if accept else DisputeStatus.REJECTED
    return replace(
        dispute, status=status, decided_by=decided_by, decided_at=decided_at, decision_comment=comment
    )


def _decision_order(dispute: Dispute) -> tuple[datetime, str]:
    return (dispute.decided_at or dispute.raised_at, dispute.dispute_id)


def effective_ratings(review: Review, disputes: Iterable[Dispute]) -> tuple[ItemRating, ...]:
    """The review's ratings with accepted disputes applied (latest decision wins per item)."""
    accepted: dict[str, Dispute] = {}
    for dispute in disputes:
        if dispute.review_id != review.review_id:
            raise ReviewError(
                f"dispute {dispute.dispute_id} belongs to review {dispute.review_id}, not {review.review_id}"
            )
        if dispute.status is not DisputeStatus.ACCEPTED:
            continue
        kept = accepted.get(dispute.item_id)
        if kept is None or _decision_order(dispute) > _decision_order(kept):
            accepted[dispute.item_id] = dispute
    return tuple(
        replace(r, rating=accepted[r.item_id].proposed_rating) if r.item_id in accepted else r
        for r in review.ratings
    )


def effective_score(review: Review, scorecard: Scorecard, disputes: Iterable[Dispute] = ()) -> ReviewScore:
    """The score that counts: the review's latest revision with its accepted disputes applied."""
    validate_review(review, scorecard)
    return score_ratings(effective_ratings(review, disputes), scorecard)
