"""Service-quality KPIs over the canonical interaction model, grouped by any columns.

Every KPI function takes interactions (a polars DataFrame or LazyFrame in ``INTERACTION_SCHEMA``) and the
columns to group by, and returns a LazyFrame with one result shape::

    *by, value, n, ci_low, ci_high

``n`` is the denominator actually used (rated interactions for CSAT, answered surveys for NPS, resolved and
checkable interactions for FCR, ...). ``ci_low``/``ci_high`` bound a 95% confidence interval, or are null where
an interval does not apply or cannot be given (see each function). Grouping by nothing returns exactly one
row, with ``n = 0`` and null value when there is no data. Nothing is collected here: callers collect.

The exact formulas are documented in ``docs/kpis.md``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

import polars as pl
from scipy import stats

from servicelens.model import EventType

Frame = pl.DataFrame | pl.LazyFrame

CONFIDENCE = 0.95
Z_95 = 1.959963984540054  # standard-normal quantile for a two-sided 95% interval
SMALL_N = 30  # results on fewer observations are flagged in the dashboard
MIN_N_MEDIAN_CI = 6  # below this even the full range covers less than 95% of the median's distribution
RESULT_COLUMNS = ("value", "n", "ci_low", "ci_high")

CSAT_SATISFIED_MIN = 4
NPS_PROMOTER_MIN = 9
NPS_DETRACTOR_MAX = 6

_MICROSECONDS_PER_MINUTE = 60_000_000


def _lazy(frame: Frame) -> pl.LazyFrame:
    return frame.lazy() if isinstance(frame, pl.DataFrame) else frame


def _aggregate(lf: pl.LazyFrame, by: Sequence[str], exprs: Sequence[pl.Expr]) -> pl.LazyFrame:
    """Grouped aggregation, or a single overall row (even on empty input) when ``by`` is empty."""
    if by:
        return lf.group_by(list(by), maintain_order=False).agg(exprs).sort(list(by), nulls_last=True)
    return lf.select(exprs)


def _finish(lf: pl.LazyFrame, by: Sequence[str]) -> pl.LazyFrame:
    return lf.select(
        *by,
        pl.col("value").cast(pl.Float64),
        pl.col("n").cast(pl.Int64),
        pl.col("ci_low").cast(pl.Float64),
        pl.col("ci_high").cast(pl.Float64),
    )


def minutes_between(start: pl.Expr, end: pl.Expr) -> pl.Expr:
    """Calendar minutes from ``start`` to ``end`` as a float (null when either is null)."""
    return (end - start).dt.total_microseconds() / _MICROSECONDS_PER_MINUTE


def week_start(column: str = "created_at") -> pl.Expr:
    """Monday 00:00 UTC of the week a timestamp falls in, for weekly trends."""
    return pl.col(column).dt.truncate("1w").alias("week")


def wilson_interval(successes: pl.Expr, n: pl.Expr, z: float = Z_95) -> tuple[pl.Expr, pl.Expr]:
    """Wilson score interval for a proportion; null when ``n`` is 0."""
    n_f = n.cast(pl.Float64)
    p = successes.cast(pl.Float64) / n_f
    denom = 1.0 + z * z / n_f
    centre = (p + z * z / (2.0 * n_f)) / denom
    half = z * ((p * (1.0 - p) / n_f) + z * z / (4.0 * n_f * n_f)).sqrt() / denom
    valid = n > 0
    low = pl.when(valid).then((centre - half).clip(0.0, 1.0))
    high = pl.when(valid).then((centre + half).clip(0.0, 1.0))
    return low, high


def _proportion(lf: pl.LazyFrame, by: Sequence[str], success: pl.Expr, eligible: pl.Expr) -> pl.LazyFrame:
    agg = _aggregate(
        lf,
        by,
        [
            eligible.sum().alias("n"),
            (success & eligible).sum().alias("_k"),
        ],
    )
    low, high = wilson_interval(pl.col("_k"), pl.col("n"))
    value = pl.when(pl.col("n") > 0).then(pl.col("_k") / pl.col("n"))
    return _finish(agg.with_columns(value=value, ci_low=low, ci_high=high), by)


def csat(interactions: Frame, by: Sequence[str] = ()) -> pl.LazyFrame:
    """Share of ratings 4-5 among rated interactions (0..1), with a Wilson interval."""
    rated = pl.col("csat").is_not_null()
    return _proportion(_lazy(interactions), by, pl.col("csat") >= CSAT_SATISFIED_MIN, rated)


def nps(interactions: Frame, by: Sequence[str] = ()) -> pl.LazyFrame:
    """Net promoter score in points (-100..100): % of 9-10 minus % of 0-6 among answered surveys.

    The interval is the normal approximation with the multinomial variance of a difference of two shares
    of the same sample, ``(p + d - (p - d)^2) / n``; null below 2 answers.
    """
    answered = pl.col("nps").is_not_null()
    agg = _aggregate(
        _lazy(interactions),
        by,
        [
            answered.sum().alias("n"),
            (answered & (pl.col("nps") >= NPS_PROMOTER_MIN)).sum().alias("_promoters"),
            (answered & (pl.col("nps") <= NPS_DETRACTOR_MAX)).sum().alias("_detractors"),
        ],
    )
    n = pl.col("n").cast(pl.Float64)
    p = pl.col("_promoters") / n
    d = pl.col("_detractors") / n
    score = p - d
    half = Z_95 * ((p + d - score * score) / n).sqrt()
    has_answers = pl.col("n") > 0
    has_spread = pl.col("n") > 1
    return _finish(
        agg.with_columns(
            value=pl.when(has_answers).then(100.0 * score),
            ci_low=pl.when(has_spread).then((100.0 * (score - half)).clip(-100.0, 100.0)),
            ci_high=pl.when(has_spread).then((100.0 * (score + half)).clip(-100.0, 100.0)),
        ),
        by,
    )


def _t_quantile(n: pl.Expr) -> pl.Expr:
    """Two-sided 95% Student-t quantile for ``n - 1`` degrees of freedom (null below n = 2)."""

    def quantiles(counts: pl.Series) -> pl.Series:
        dof = counts.cast(pl.Float64) - 1.0
        values = [
            float(stats.t.ppf(0.5 + CONFIDENCE / 2, d)) if d is not None and d >= 1 else None for d in dof
        ]
        return pl.Series(values, dtype=pl.Float64)

    return n.map_batches(quantiles, return_dtype=pl.Float64)


def ces(interactions: Frame, by: Sequence[str] = ()) -> pl.LazyFrame:
    """Mean customer effort score on 1-7 among answered, with a Student-t interval (null below n = 2)."""
    answered = pl.col("ces").cast(pl.Float64).drop_nulls()
    agg = _aggregate(
        _lazy(interactions),
        by,
        [
            answered.count().alias("n"),
            answered.mean().alias("value"),
            answered.std(ddof=1).alias("_sd"),
        ],
    )
    half = _t_quantile(pl.col("n")) * pl.col("_sd") / pl.col("n").cast(pl.Float64).sqrt()
    has_spread = pl.col("n") > 1
    return _finish(
        agg.with_columns(
            ci_low=pl.when(has_spread).then(pl.col("value") - half),
            ci_high=pl.when(has_spread).then(pl.col("value") + half),
        ),
        by,
    )


def median_rank_bounds(n: int, z: float = Z_95) -> tuple[int, int] | None:
    """1-based ranks of the order statistics bounding a ~95% interval for the median, or None if n < 6."""
    if n < MIN_N_MEDIAN_CI:
        return None
    low = max(1, math.floor((n - z * math.sqrt(n)) / 2))
    high = min(n, math.ceil(1 + (n + z * math.sqrt(n)) / 2))
    return low, high


def _median_minutes(
    lf: pl.LazyFrame, by: Sequence[str], minutes: pl.Expr, interpolation: str
) -> pl.LazyFrame:
    values = minutes.drop_nulls()
    ordered = values.sort() if by else values.sort().implode()
    agg = _aggregate(
        lf,
        by,
        [
            values.count().alias("n"),
            values.quantile(0.5, interpolation=interpolation).alias("value"),  # type: ignore[arg-type]
            ordered.alias("_sorted"),
        ],
    )
    n = pl.col("n").cast(pl.Float64)
    low_rank = pl.max_horizontal(pl.lit(1.0), ((n - Z_95 * n.sqrt()) / 2).floor())
    high_rank = pl.min_horizontal(n, (1 + (n + Z_95 * n.sqrt()) / 2).ceil())
    enough = pl.col("n") >= MIN_N_MEDIAN_CI
    sorted_values = pl.col("_sorted")
    return _finish(
        agg.with_columns(
            ci_low=pl.when(enough).then(
                sorted_values.list.get(low_rank.cast(pl.Int64) - 1, null_on_oob=True)
            ),
            ci_high=pl.when(enough).then(
                sorted_values.list.get(high_rank.cast(pl.Int64) - 1, null_on_oob=True)
            ),
        ),
        by,
    )


def median_first_response_minutes(
    interactions: Frame, by: Sequence[str] = (), interpolation: str = "linear"
) -> pl.LazyFrame:
    """Median calendar minutes from creation to the first public reply, among answered interactions.

    Interval: distribution-free order-statistic bounds (ranks from the normal approximation to the
    binomial), null below 6 values.
    """
    minutes = minutes_between(pl.col("created_at"), pl.col("first_response_at"))
    return _median_minutes(_lazy(interactions), by, minutes, interpolation)


def median_resolution_minutes(
    interactions: Frame, by: Sequence[str] = (), interpolation: str = "linear"
) -> pl.LazyFrame:
    """Median calendar minutes from creation to resolution, among resolved interactions (same interval)."""
    minutes = minutes_between(pl.col("created_at"), pl.col("resolved_at"))
    return _median_minutes(_lazy(interactions), by, minutes, interpolation)


def median_business_minutes(
    sla_results: Frame,
    interactions: Frame,
    metric: str,
    by: Sequence[str] = (),
    interpolation: str = "linear",
) -> pl.LazyFrame:
    """Median business minutes an SLA clock counted to completion, per interaction (same interval as above).

    ``sla_results`` are evaluated clocks (``sla.evaluate.evaluate``: ``interaction_id, metric, cycle,
    elapsed_minutes, completed_at``). An interaction counts when every cycle of ``metric`` completed, with
    the minutes of all its cycles added up: for ``first_response`` the answered interactions, for
    ``resolution`` the resolved ones (reopens add their cycles; waiting on the customer is not counted).
    Only ``interactions`` (and their ``by`` columns) are in scope.
    """
    per_interaction = (
        _lazy(sla_results)
        .filter(pl.col("metric").cast(pl.String) == metric)
        .group_by("interaction_id")
        .agg(
            pl.when(pl.col("elapsed_minutes").null_count() == 0)
            .then(pl.col("elapsed_minutes").sum())
            .alias("_business_minutes"),
            pl.col("completed_at").is_not_null().all().alias("_completed"),
        )
        .filter(pl.col("_completed"))
    )
    scoped = _lazy(interactions).join(per_interaction, on="interaction_id", how="inner")
    return _median_minutes(scoped, by, pl.col("_business_minutes"), interpolation)


def volume(interactions: Frame, by: Sequence[str] = ()) -> pl.LazyFrame:
    """Number of interactions. ``value == n``; no interval: it is a count of everything, not a sample."""
    agg = _aggregate(_lazy(interactions), by, [pl.len().alias("n")])
    return _finish(
        agg.with_columns(
            value=pl.col("n"),
            ci_low=pl.lit(None, dtype=pl.Float64),
            ci_high=pl.lit(None, dtype=pl.Float64),
        ),
        by,
    )


def fcr_flags(
    interactions: Frame,
    events: Frame,
    *,
    now: datetime,
    window_days: int = 7,
    customers_from: Frame | None = None,
) -> pl.LazyFrame:
    """Per interaction: ``fcr_eligible`` and ``fcr_resolved`` (first-contact resolution), plus the inputs.

    Eligible: resolved, with a known customer, and the whole repeat-contact window (``resolved_at`` +
    ``window_days``) already over at ``now``. Resolved at first contact: at most one ``agent_reply`` event at
    or before ``resolved_at``, no reopen (a null count is taken as 0), and no other interaction of the same
    customer created in (``resolved_at``, ``resolved_at`` + ``window_days``]. Repeat contacts are looked up in
    ``customers_from`` (default: ``interactions``) so a filtered view still sees follow-ups elsewhere.
    """
    lf = _lazy(interactions)
    window = timedelta(days=window_days)
    replies = (
        _lazy(events)
        .filter(pl.col("type") == EventType.AGENT_REPLY.value)
        .select("interaction_id", "at")
        .join(lf.select("interaction_id", "resolved_at"), on="interaction_id", how="inner")
        .filter(pl.col("at") <= pl.col("resolved_at"))
        .group_by("interaction_id")
        .agg(pl.len().cast(pl.Int64).alias("replies_before_resolution"))
    )
    later_contacts = (
        _lazy(customers_from if customers_from is not None else interactions)
        .filter(pl.col("customer").is_not_null())
        .select("customer", pl.col("created_at").alias("next_contact_at"))
        .sort("customer", "next_contact_at")
    )
    resolved = (
        lf.filter(pl.col("resolved_at").is_not_null() & pl.col("customer").is_not_null())
        .select("interaction_id", "customer", "resolved_at")
        .sort("customer", "resolved_at")
    )
    # The first contact strictly after the resolution, per customer: one sorted as-of join, no pairwise scan.
    next_contact = resolved.join_asof(
        later_contacts,
        left_on="resolved_at",
        right_on="next_contact_at",
        by="customer",
        strategy="forward",
        allow_exact_matches=False,
    ).select("interaction_id", "next_contact_at")
    flags = (
        lf.join(replies, on="interaction_id", how="left", maintain_order="left")
        .join(next_contact, on="interaction_id", how="left", maintain_order="left")
        .with_columns(pl.col("replies_before_resolution").fill_null(0))
    )
    eligible = (
        pl.col("resolved_at").is_not_null()
        & pl.col("customer").is_not_null()
        & (pl.col("resolved_at") + window <= pl.lit(now))
    )
    repeat = pl.col("next_contact_at").is_not_null() & (
        pl.col("next_contact_at") <= pl.col("resolved_at") + window
    )
    first_contact = (
        (pl.col("replies_before_resolution") <= 1) & (pl.col("reopens").fill_null(0) == 0) & ~repeat
    )
    return flags.with_columns(
        fcr_eligible=eligible,
        fcr_resolved=eligible & first_contact,
    )


def fcr(
    interactions: Frame,
    events: Frame,
    *,
    now: datetime,
    window_days: int = 7,
    by: Sequence[str] = (),
    customers_from: Frame | None = None,
) -> pl.LazyFrame:
    """First-contact resolution rate (0..1) among eligible interactions, with a Wilson interval."""
    flags = fcr_flags(interactions, events, now=now, window_days=window_days, customers_from=customers_from)
    return _proportion(flags, by, pl.col("fcr_resolved"), pl.col("fcr_eligible"))


KPI_LABELS: dict[str, str] = {
    "volume": "Volume",
    "csat": "CSAT",
    "nps": "NPS",
    "ces": "CES",
    "fcr": "FCR",
    "median_first_response_minutes": "Median first response",
    "median_resolution_minutes": "Median resolution time",
}
