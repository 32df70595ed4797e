"""The clock timeline of one interaction, for the drill-down: when each clock ran, paused and was due."""

from __future__ import annotations

from datetime import datetime

import polars as pl

from servicelens.model import UTC_DATETIME
from sla.calendar import table_for
from sla.clock import BIT_OF_CODE, OTHER_STATUS, STATUS_CODE, cycles, status_segments, to_micros
from sla.config import SlaConfig
from sla.evaluate import KEY, clock_frames, clock_us, evaluate_detailed

TIMELINE_SCHEMA: dict[str, pl.DataType] = {
    "metric": pl.String(),
    "cycle": pl.Int32(),
    "from": UTC_DATETIME,
    "to": UTC_DATETIME,
    "interaction_status": pl.String(),
    "state": pl.String(),
    "business_minutes": pl.Float64(),
    "clock_status": pl.String(),
    "due_at": UTC_DATETIME,
}
TIMELINE_COLUMNS = list(TIMELINE_SCHEMA)
_STATUS_NAMES = pl.Series([*STATUS_CODE, "other"])
assert len(_STATUS_NAMES) == OTHER_STATUS + 1


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
    known = interactions.filter(wanted)
    mine = events.filter(wanted)
    table = table_for(config, now)
    now_us = to_micros(now)
    windows: list[pl.DataFrame] = []
    segments = pl.DataFrame()
    for _, history, attributes in clock_frames(known, mine, config, now):
        segments = status_segments(history)
        for metric, rules in attributes.items():
            clocks = cycles(history, metric).filter(pl.lit(rules["defined"]).gather(pl.col("key")))
            at = history["at"]
            windows.append(
                clocks.select(
                    "key",
                    pl.lit(metric.value).alias("metric"),
                    "cycle",
                    pl.lit(at).gather(pl.col("start_row")).alias("start"),
                    pl.lit(at).gather(pl.col("stop_row")).fill_null(now_us).alias("end"),
                    pl.lit(rules["clock_calendar"]).gather(pl.col("key")).alias("clock_calendar"),
                    pl.lit(rules["pause_mask"]).gather(pl.col("key")).alias("pause_mask"),
                )
            )
    results = evaluate_detailed(known, mine, config, now).select(
        "metric", "cycle", pl.col("status").alias("clock_status"), "due_at"
    )
    if not windows or segments.is_empty():
        return pl.DataFrame(schema=TIMELINE_SCHEMA)
    counting = (pl.col("pause_mask") & pl.lit(BIT_OF_CODE).gather(pl.col("state"))) == 0
    stretches = (
        pl.concat(windows)
        .join(segments, on="key")
        .filter(
            (pl.col("seg_start") < pl.col("end"))
            & (pl.col("seg_end").is_null() | (pl.col("seg_end") > pl.col("start")))
        )
        .with_columns(
            pl.max_horizontal("seg_start", "start").alias("from"),
            pl.min_horizontal(pl.col("seg_end").fill_null(pl.col("end")), "end").alias("to"),
            pl.when(counting).then(pl.lit("counting")).otherwise(pl.lit("paused")).alias("state"),
            pl.lit(_STATUS_NAMES).gather(pl.col("state")).alias("interaction_status"),
        )
        .with_columns(
            pl.when(pl.col("state") == "counting")
            .then(
                (
                    clock_us(table, pl.col("clock_calendar"), pl.col("to"))
                    - clock_us(table, pl.col("clock_calendar"), pl.col("from"))
                )
                / 60_000_000
            )
            .otherwise(0.0)
            .alias("business_minutes"),
            pl.col("from", "to").cast(UTC_DATETIME),
        )
    )
    joined = stretches.lazy().join(results, on=["metric", "cycle"], how="left", maintain_order="left")
    periodic = results.filter(pl.col("metric") == "periodic_update").select(
        "metric", pl.col("clock_status").alias("overall"), pl.col("due_at").alias("overall_due")
    )
    return (
        joined.join(periodic, on="metric", how="left", maintain_order="left")
        .with_columns(
            pl.coalesce("overall", "clock_status").alias("clock_status"),
            pl.coalesce("overall_due", "due_at").alias("due_at"),
        )
        .sort(*KEY[1:], "from")
        .select(TIMELINE_COLUMNS)
        .collect()
        .cast(TIMELINE_SCHEMA)  # type: ignore[arg-type]
    )
