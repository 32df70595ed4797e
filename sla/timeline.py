"""The clock timeline of one interaction, for the drill-down: when each clock ran, paused and was due."""

from __future__ import annotations

from datetime import datetime

import polars as pl

from sla.calendar import table_for
from sla.clock import history, segments_of
from sla.config import SlaConfig
from sla.evaluate import KEY, clock_expr, evaluate_detailed, prepare_clocks

TIMELINE_COLUMNS = [
    "metric",
    "cycle",
    "from",
    "to",
    "interaction_status",
    "state",
    "business_minutes",
    "clock_status",
    "due_at",
]


def timeline(
    interactions: pl.LazyFrame, events: pl.LazyFrame, config: SlaConfig, now: datetime, interaction_id: str
) -> pl.DataFrame:
    """One row per stretch of each clock of ``interaction_id``, in order.

    ``state`` is ``counting`` or ``paused`` (by the status in force); ``business_minutes`` is what the
    stretch added to the clock (zero outside business hours or when paused); ``clock_status`` and ``due_at``
    repeat the clock's evaluated result. For periodic_update the stretches of every gap are listed under the
    gap's own number, while ``clock_status`` is the metric's overall result.
    """
    wanted = pl.col("interaction_id") == interaction_id
    known = interactions.filter(wanted & (pl.col("created_at") <= now))
    mine = events.filter(wanted)
    facts = history(known, mine, now)
    segments = segments_of(facts)
    clocks = prepare_clocks(known, facts, config, now)
    table = table_for(config, now)
    results = evaluate_detailed(known, mine, config, now).select(
        "metric", "cycle", pl.col("status").alias("clock_status"), "due_at"
    )
    stretches = (
        clocks.join(segments, on="interaction_id")
        .filter(
            (pl.col("seg_start") < pl.col("end"))
            & (pl.col("seg_end").is_null() | (pl.col("seg_end") > pl.col("start")))
        )
        .with_columns(
            pl.max_horizontal("seg_start", "start").alias("from"),
            pl.min_horizontal(pl.col("seg_end").fill_null(pl.col("end")), "end").alias("to"),
            pl.when((pl.col("pause_mask") & pl.col("status_bit")) == 0)
            .then(pl.lit("counting"))
            .otherwise(pl.lit("paused"))
            .alias("state"),
        )
        .with_columns(
            pl.when(pl.col("state") == "counting")
            .then((clock_expr(table, pl.col("to")) - clock_expr(table, pl.col("from"))) / 60_000_000)
            .otherwise(0.0)
            .alias("business_minutes"),
            pl.col("status").alias("interaction_status"),
            pl.col("metric").cast(pl.String),
        )
    )
    joined = stretches.join(results, on=["metric", "cycle"], how="left")
    periodic = results.filter(pl.col("metric") == "periodic_update").select(
        "metric", pl.col("clock_status").alias("overall"), pl.col("due_at").alias("overall_due")
    )
    return (
        joined.join(periodic, on="metric", how="left")
        .with_columns(
            pl.coalesce("overall", "clock_status").alias("clock_status"),
            pl.coalesce("overall_due", "due_at").alias("due_at"),
        )
        .sort(*KEY[1:], "from")
        .select(TIMELINE_COLUMNS)
        .collect()
    )
