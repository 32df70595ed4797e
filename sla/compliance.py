"""Compliance aggregates over evaluated clocks, always with the number of clocks behind each figure.

    compliance(results, interactions, by=["team", "location", "week"], config=config.sla)

A clock counts once it is decided: ``met`` or ``breached`` (a running clock past its target is already
breached). ``compliance`` is met / n, null when n is 0. Running, at-risk and paused clocks are counted
beside it so a page can show the live queue next to the rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from sla.config import SlaConfig

GROUPABLE = ("team", "location", "agent", "channel", "priority", "week", "policy", "metric")


def local_week_expr(config: SlaConfig, instant: str = "started_at", calendar: str = "calendar") -> pl.Expr:
    """Monday of the local week of ``instant`` in the time zone of the row's calendar."""
    week: pl.Expr = pl.col(instant).dt.date()
    chain: Any = None
    for name in config.calendar_names():
        local = pl.col(instant).dt.convert_time_zone(config.calendars[name].timezone).dt.date()
        condition = pl.col(calendar) == name
        chain = (pl.when(condition) if chain is None else chain.when(condition)).then(local)
    if chain is not None:
        week = chain.otherwise(week)
    return week.dt.truncate("1w").alias("week")


def compliance(
    results: pl.LazyFrame,
    interactions: pl.LazyFrame,
    by: Sequence[str] = ("metric",),
    config: SlaConfig | None = None,
) -> pl.LazyFrame:
    """Aggregate evaluated clocks by interaction attributes and/or the local week.

    ``results`` comes from :func:`sla.evaluate.evaluate_detailed` (for ``week`` it needs ``started_at`` and
    ``calendar``; weeks are UTC weeks when ``config`` is not given). ``metric`` is always a group key.
    Columns: the keys, ``n`` (decided clocks), ``met``, ``breached``, ``compliance``, ``running``,
    ``at_risk``, ``paused``, ``not_applicable``, ``median_elapsed_minutes`` (linear interpolation).
    """
    keys = list(dict.fromkeys(["metric", *by]))
    unknown = [k for k in keys if k not in GROUPABLE]
    if unknown:
        raise ValueError(f"cannot group compliance by {unknown}; choose from {list(GROUPABLE)}")
    attributes = [k for k in keys if k in ("team", "location", "agent", "channel", "priority")]
    frame = results
    if attributes:
        frame = frame.join(
            interactions.select("interaction_id", *attributes), on="interaction_id", how="left"
        )
    if "week" in keys:
        if config is None:
            frame = frame.with_columns(pl.col("started_at").dt.date().dt.truncate("1w").alias("week"))
        else:
            frame = frame.with_columns(local_week_expr(config))
    status = pl.col("status")
    met = (status == "met").sum()
    breached = (status == "breached").sum()
    decided = status.is_in(["met", "breached"])
    return (
        frame.group_by(keys)
        .agg(
            (met + breached).alias("n"),
            met.alias("met"),
            breached.alias("breached"),
            (status == "running").sum().alias("running"),
            (status == "at_risk").sum().alias("at_risk"),
            (status == "paused").sum().alias("paused"),
            (status == "not_applicable").sum().alias("not_applicable"),
            pl.col("elapsed_minutes").filter(decided).median().alias("median_elapsed_minutes"),
        )
        .with_columns(
            pl.when(pl.col("n") > 0).then(pl.col("met") / pl.col("n")).alias("compliance"),
        )
        .sort(keys, nulls_last=True)
    )
