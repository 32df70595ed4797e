"""Compliance aggregates over evaluated clocks, always with the number of clocks behind each figure.

    compliance(results, interactions, by=["team", "location", "week"], config=config.sla)

A clock counts once it is decided: ``met`` or ``breached`` (a running clock past its target is already
breached). ``compliance`` is met / n, null when n is 0. Running, at-risk and paused clocks are counted
beside it so a page can show the live queue next to the rate.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from sla.calendar import local_days
from sla.config import SlaConfig
from sla.evaluate import STATUSES

GROUPABLE = ("team", "location", "agent", "channel", "priority", "week", "policy", "metric")
STATUS_ENUM = pl.Enum(list(STATUSES))


def local_week_expr(config: SlaConfig, instant: str = "started_at", calendar: str = "calendar") -> pl.Expr:
    """Monday of the local week of ``instant`` in the time zone of the row's calendar (UTC for a calendar
    the config does not know)."""
    names = config.calendar_names()
    zones = [config.calendars[name].timezone for name in names]

    def mondays(columns: pl.Series) -> pl.Series:
        fields = columns.struct.unnest()
        moments = fields[instant]
        known = moments.is_not_null().to_numpy()
        zone_index = fields[calendar].fill_null(-1).to_numpy()
        days = local_days(zones, zone_index[known], moments.drop_nulls().to_numpy())
        monday = days - (days + 3) % 7  # 1970-01-01 was a Thursday
        out = np.zeros(len(known), dtype=np.int32)
        out[known] = monday
        return pl.Series(out).cast(pl.Date).scatter(np.flatnonzero(~known), None)

    zone_of = pl.col(calendar).cast(pl.Enum(names), strict=False).to_physical().cast(pl.Int32)
    moment = pl.col(instant).dt.convert_time_zone("UTC").dt.cast_time_unit("us").cast(pl.Int64)
    return (
        pl.struct(moment.alias(instant), zone_of.alias(calendar))
        .map_batches(mondays, return_dtype=pl.Date)
        .alias("week")
    )


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
    # Text keys are grouped as categoricals (one hash per row instead of one per comparison) and turned
    # back into text at the end; the status becomes its position in STATUSES.
    text_keys = [k for k in keys if k != "week"]
    frame = results.select(
        "interaction_id",
        "elapsed_minutes",
        *(["started_at"] if "week" in keys else []),
        *(["calendar"] if "week" in keys and config is not None else []),
        *(pl.col(k).cast(pl.Categorical) for k in ("metric", "policy") if k in keys),
        pl.col("status").cast(STATUS_ENUM, strict=False).to_physical().alias("status_code"),
    )
    if attributes:
        frame = frame.join(
            interactions.select("interaction_id", *(pl.col(a).cast(pl.Categorical) for a in attributes)),
            on="interaction_id",
            how="left",
        )
    if "week" in keys:
        if config is None:
            frame = frame.with_columns(pl.col("started_at").dt.date().dt.truncate("1w").alias("week"))
        else:
            frame = frame.with_columns(local_week_expr(config))
    code = pl.col("status_code")

    def count(status: str) -> pl.Expr:
        return (code == STATUSES.index(status)).sum()

    met, breached = count("met"), count("breached")
    decided = code.is_in([STATUSES.index("met"), STATUSES.index("breached")])
    return (
        frame.group_by(keys)
        .agg(
            (met + breached).alias("n"),
            met.alias("met"),
            breached.alias("breached"),
            *(count(s).alias(s) for s in ("running", "at_risk", "paused", "not_applicable")),
            pl.col("elapsed_minutes").filter(decided).median().alias("median_elapsed_minutes"),
        )
        .with_columns(
            pl.col(text_keys).cast(pl.String),
            pl.when(pl.col("n") > 0).then(pl.col("met") / pl.col("n")).alias("compliance"),
        )
        .sort(keys, nulls_last=True)
    )
