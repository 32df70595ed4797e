"""Wilson score intervals and audit sample sizes.

Sample size for estimating a rate p within ±E at confidence c (z = the two-sided normal quantile)::

    n = ceil(z^2 * p * (1 - p) / E^2)

optionally reduced for a small population N by the finite-population correction n / (1 + (n - 1) / N).
"""

from __future__ import annotations

import math

import polars as pl
from scipy.stats import norm

from audits.config import PrecisionTarget


def z_value(confidence: float) -> float:
    """Two-sided normal quantile, e.g. 1.96 for 0.95."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence}")
    return float(norm.ppf(0.5 + confidence / 2))


def wilson_interval(successes: float, n: int, confidence: float = 0.95) -> tuple[float, float] | None:
    """Wilson score interval for a proportion; None when n is 0. ``successes`` may be fractional."""
    if n <= 0:
        return None
    if not 0 <= successes <= n:
        raise ValueError(f"successes ({successes}) must lie between 0 and n ({n})")
    z = z_value(confidence)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def wilson_bounds(rate: pl.Expr, n: pl.Expr, confidence: float = 0.95) -> tuple[pl.Expr, pl.Expr]:
    """Lower and upper Wilson bounds as expressions over a rate column and a count column.

    Null where n is 0. Example: ``frame.with_columns(lo=lo, hi=hi)`` with
    ``lo, hi = wilson_bounds(pl.col("pass_rate"), pl.col("n"))``.
    """
    z2 = z_value(confidence) ** 2
    n_f = n.cast(pl.Float64)
    denominator = 1 + z2 / n_f
    centre = (rate + z2 / (2 * n_f)) / denominator
    half = (z2**0.5) * ((rate * (1 - rate) / n_f + z2 / (4 * n_f * n_f)).sqrt()) / denominator
    valid = n > 0
    lower = pl.when(valid).then(pl.max_horizontal(centre - half, pl.lit(0.0))).alias("wilson_low")
    upper = pl.when(valid).then(pl.min_horizontal(centre + half, pl.lit(1.0))).alias("wilson_high")
    return lower, upper


def required_sample_size(
    margin: float, confidence: float = 0.95, expected_rate: float = 0.5, population: int | None = None
) -> int:
    """Audits needed to estimate a rate within ±margin: n = z^2 p(1-p) / E^2, rounded up.

    >>> required_sample_size(0.05)  # the classic 385
    385
    """
    if not 0 < margin < 1:
        raise ValueError(f"margin must lie strictly between 0 and 1, got {margin}")
    if not 0 < expected_rate < 1:
        raise ValueError(f"expected_rate must lie strictly between 0 and 1, got {expected_rate}")
    z = z_value(confidence)
    # Rounded before ceil so float noise (384.1599999) cannot add an audit.
    n = math.ceil(round(z * z * expected_rate * (1 - expected_rate) / (margin * margin), 9))
    if population is not None:
        if population < 0:
            raise ValueError(f"population must be >= 0, got {population}")
        if population == 0:
            return 0
        n = math.ceil(round(n / (1 + (n - 1) / population), 9))
    return n


def achieved_margin(n: int, confidence: float = 0.95, expected_rate: float = 0.5) -> float | None:
    """The ±margin that n audits give (inverse of the sample-size formula); None for n = 0."""
    if n <= 0:
        return None
    return z_value(confidence) * math.sqrt(expected_rate * (1 - expected_rate) / n)


def plan_check(
    planned: pl.DataFrame, target: PrecisionTarget, *, unit: str, population: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Does each unit get enough audits for the chosen precision?

    ``planned`` has ``unit`` and ``planned`` (audits per unit, e.g. from a sample or a period's reviews);
    ``population`` optionally has ``unit`` and ``population`` (interactions per unit) for the finite
    correction. Returns unit, planned, population, required, shortfall, achieved_margin, meets.
    """
    frame = planned.select(unit, pl.col("planned").cast(pl.Int64))
    if population is not None:
        frame = frame.join(
            population.select(unit, pl.col("population").cast(pl.Int64)), on=unit, how="full", coalesce=True
        )
        frame = frame.with_columns(pl.col("planned").fill_null(0))
    else:
        frame = frame.with_columns(population=pl.lit(None, dtype=pl.Int64))
    rows = []
    for row in frame.iter_rows(named=True):
        required = required_sample_size(
            target.margin, target.confidence, target.expected_rate, row["population"]
        )
        margin = achieved_margin(row["planned"], target.confidence, target.expected_rate)
        if margin is not None and row["population"]:
            # Finite-population correction of the margin, matching the corrected sample size.
            n, big_n = row["planned"], row["population"]
            margin *= math.sqrt(max(big_n - n, 0) / max(big_n - 1, 1))
        rows.append({**row, "required": required, "achieved_margin": margin})
    schema = {
        unit: frame.schema[unit],
        "planned": pl.Int64(),
        "population": pl.Int64(),
        "required": pl.Int64(),
        "achieved_margin": pl.Float64(),
    }
    return (
        pl.DataFrame(rows, schema=schema)
        .with_columns(
            shortfall=(pl.col("required") - pl.col("planned")).clip(lower_bound=0),
            meets=pl.col("planned") >= pl.col("required"),
        )
        .sort(unit)
    )
