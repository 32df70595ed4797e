"""Audit results: reviews as frames, then scores by location / team / agent / item with n and intervals.

Intervals are Wilson score intervals. For pass rates (review score >= pass mark) they are exact in the
usual sense; for mean scores each review's 0..1 score counts as a fractional success, which keeps the
interval inside 0..1 and is conservative for scores that cluster near the ends.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import polars as pl

from audits.config import Scorecard
from audits.scoring import (
    Dispute,
    Review,
    current_revisions,
    effective_ratings,
    score_ratings,
    validate_review,
)
from audits.stats import wilson_bounds

SCORE_SCHEMA: dict[str, pl.DataType] = {
    "review_id": pl.String(),
    "interaction_id": pl.String(),
    "auditor": pl.String(),
    "scorecard_id": pl.String(),
    "scorecard_version": pl.Int64(),
    "revision": pl.Int64(),
    "scored_at": pl.Datetime("us", "UTC"),
    "score": pl.Float64(),
    "raw_score": pl.Float64(),
    "critical_failed": pl.Boolean(),
    "accepted_disputes": pl.Int64(),
}

ITEM_SCHEMA: dict[str, pl.DataType] = {
    "review_id": pl.String(),
    "interaction_id": pl.String(),
    "auditor": pl.String(),
    "scorecard_id": pl.String(),
    "scorecard_version": pl.Int64(),
    "category": pl.String(),
    "item_id": pl.String(),
    "rating": pl.Int64(),
    "normalised": pl.Float64(),
    "not_applicable": pl.Boolean(),
}


@dataclass(frozen=True)
class ReviewFrames:
    scores: pl.DataFrame  # one row per review (latest revision, accepted disputes applied)
    items: pl.DataFrame  # one row per review and item


def review_frames(
    reviews: Iterable[Review],
    scorecard_for: Callable[[str, int], Scorecard],
    disputes: Iterable[Dispute] = (),
) -> ReviewFrames:
    """Effective scores of the latest revision of every review. ``scorecard_for`` is e.g.
    ``AuditsConfig.scorecard``: each review is scored on the version it was scored on."""
    by_review: dict[str, list[Dispute]] = defaultdict(list)
    for dispute in disputes:
        by_review[dispute.review_id].append(dispute)
    score_rows, item_rows = [], []
    for review in current_revisions(reviews):
        card = scorecard_for(review.scorecard_id, review.scorecard_version)
        validate_review(review, card)
        ratings = effective_ratings(review, by_review.get(review.review_id, ()))
        result = score_ratings(ratings, card)
        head = {
            "review_id": review.review_id,
            "interaction_id": review.interaction_id,
            "auditor": review.auditor,
            "scorecard_id": review.scorecard_id,
            "scorecard_version": review.scorecard_version,
        }
        accepted = sum(d.status == "accepted" for d in by_review.get(review.review_id, ()))
        score_rows.append(
            {
                **head,
                "revision": review.revision,
                "scored_at": review.scored_at,
                "score": result.score,
                "raw_score": result.raw_score,
                "critical_failed": result.critical_failed,
                "accepted_disputes": accepted,
            }
        )
        for rating in ratings:
            item_rows.append(
                {
                    **head,
                    "category": card.category_of(rating.item_id),
                    "item_id": rating.item_id,
                    "rating": rating.rating,
                    "normalised": result.normalised[rating.item_id],
                    "not_applicable": rating.rating is None,
                }
            )
    return ReviewFrames(
        pl.DataFrame(score_rows, schema=SCORE_SCHEMA), pl.DataFrame(item_rows, schema=ITEM_SCHEMA)
    )


def _with_intervals(frame: pl.DataFrame, rate: str, n: str, prefix: str, confidence: float) -> pl.DataFrame:
    lower, upper = wilson_bounds(pl.col(rate), pl.col(n), confidence)
    return frame.with_columns(lower.alias(f"{prefix}_low"), upper.alias(f"{prefix}_high"))


def scores_by(
    scores: pl.DataFrame,
    interactions: pl.DataFrame,
    by: Sequence[str],
    *,
    pass_mark: float,
    confidence: float = 0.95,
) -> pl.DataFrame:
    """Review results per unit (e.g. ``by=["location"]``): n, mean score and pass rate with Wilson
    intervals, critical failures, and the review ids behind each figure for drill-down."""
    joined = scores.filter(pl.col("score").is_not_null()).join(
        interactions.select("interaction_id", *[c for c in by if c not in scores.columns]),
        on="interaction_id",
        how="left",
        maintain_order="left",
    )
    summary = (
        joined.group_by(*by)
        .agg(
            n=pl.len().cast(pl.Int64),
            mean_score=pl.col("score").mean(),
            pass_rate=(pl.col("score") >= pass_mark).mean(),
            critical_failures=pl.col("critical_failed").sum().cast(pl.Int64),
            review_ids=pl.col("review_id").sort(),
        )
        .sort(*by, nulls_last=True)
    )
    summary = _with_intervals(summary, "mean_score", "n", "score", confidence)
    return _with_intervals(summary, "pass_rate", "n", "pass", confidence)


def item_results(
    items: pl.DataFrame,
    interactions: pl.DataFrame | None = None,
    by: Sequence[str] = (),
    *,
    confidence: float = 0.95,
) -> pl.DataFrame:
    """Per item (and per ``by`` unit): applicable n, N/A count, mean normalised rating with its Wilson
    interval. Sorted weakest first, so ``.head(5)`` gives the weakest items."""
    frame = items
    if by:
        if interactions is None:
            raise ValueError("item_results: grouping by unit columns needs the interactions frame")
        frame = frame.join(
            interactions.select("interaction_id", *by), on="interaction_id", how="left", maintain_order="left"
        )
    summary = (
        frame.group_by(*by, "category", "item_id")
        .agg(
            n=(~pl.col("not_applicable")).sum().cast(pl.Int64),
            not_applicable=pl.col("not_applicable").sum().cast(pl.Int64),
            mean=pl.col("normalised").mean(),
            review_ids=pl.col("review_id").filter(~pl.col("not_applicable")).sort(),
        )
        .sort("mean", *by, "item_id", nulls_last=True)
    )
    return _with_intervals(summary, "mean", "n", "mean", confidence)


def score_trend(
    scores: pl.DataFrame,
    interactions: pl.DataFrame,
    *,
    every: str = "1w",
    time_column: str = "created_at",
    by: Sequence[str] = (),
    confidence: float = 0.95,
) -> pl.DataFrame:
    """Mean review score per period (UTC buckets of the interaction's ``time_column``) with n and interval."""
    wanted = ["interaction_id", time_column, *[c for c in by if c not in scores.columns]]
    frame = (
        scores.filter(pl.col("score").is_not_null())
        .join(interactions.select(wanted), on="interaction_id", how="left", maintain_order="left")
        .with_columns(period=pl.col(time_column).dt.truncate(every))
    )
    summary = (
        frame.group_by("period", *by)
        .agg(n=pl.len().cast(pl.Int64), mean_score=pl.col("score").mean())
        .sort("period", *by)
    )
    return _with_intervals(summary, "mean_score", "n", "score", confidence)
