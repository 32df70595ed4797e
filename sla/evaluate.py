"""Evaluate every interaction x metric x cycle: elapsed business minutes, due time, completion and status.

    results = evaluate(interactions, events, config.sla, now)          # LazyFrame, RESULT_COLUMNS
    changed = evaluate_subset(interactions, events, config.sla, now, ids)

Pure and retroactive: the same inputs, config and ``now`` always give the same rows, for all history.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import polars as pl

from servicelens.model import UTC_DATETIME
from sla.calendar import CalendarTable, table_for
from sla.clock import current_status, cycles, history, milestones, segments_of
from sla.config import Metric, SlaConfig
from sla.policy import (
    US_PER_MINUTE,
    home_calendar_expr,
    metrics_in_use,
    policy_index_expr,
    priority_key_expr,
    rules_frame,
    warning_slots,
)

RESULT_SCHEMA: dict[str, pl.DataType] = {
    "interaction_id": pl.String(),
    "metric": pl.String(),
    "cycle": pl.Int32(),
    "policy": pl.String(),
    "target_minutes": pl.Float64(),
    "elapsed_minutes": pl.Float64(),
    "status": pl.String(),
    "due_at": UTC_DATETIME,
    "completed_at": UTC_DATETIME,
}
RESULT_COLUMNS = list(RESULT_SCHEMA)
KEY = ["interaction_id", "metric", "cycle"]
DETAIL_SCHEMA: dict[str, pl.DataType] = {
    **RESULT_SCHEMA,
    "started_at": UTC_DATETIME,
    "calendar": pl.String(),
    "business_hours": pl.Boolean(),
    "paused_now": pl.Boolean(),
    "warning_level": pl.Float64(),
}
STATUSES = ("met", "breached", "running", "at_risk", "paused", "not_applicable")


def clock_expr(table: CalendarTable, instant: pl.Expr) -> pl.Expr:
    """Counted µs at ``instant`` for the row's calendar (``cal``) and time basis (``business_hours``)."""
    return (
        pl.when(pl.col("business_hours"))
        .then(table.business_us(pl.col("cal"), instant))
        .otherwise(instant.cast(pl.Int64))
    )


def with_instant(frame: pl.LazyFrame, table: CalendarTable, clock: str, alias: str) -> pl.LazyFrame:
    """Add ``alias``: when the row's clock reaches column ``clock`` (µs), by its time basis."""
    frame = table.with_instant(frame, "cal", clock, "_business_instant")
    calendar_time = pl.col(clock).cast(UTC_DATETIME)
    instant = pl.when(pl.col("business_hours")).then(pl.col("_business_instant")).otherwise(calendar_time)
    return frame.with_columns(instant.alias(alias)).drop("_business_instant")


def prepare_clocks(
    known: pl.LazyFrame, facts: pl.LazyFrame, config: SlaConfig, now: datetime
) -> pl.LazyFrame:
    """Cycles joined with their interaction's policy, calendar and rule (one row per clock)."""
    clock_windows = cycles(milestones(facts), metrics_in_use(config))
    attributes = known.select(
        "interaction_id", policy_index_expr(config), priority_key_expr(), home_calendar_expr(config)
    )
    return (
        clock_windows.join(attributes, on="interaction_id")
        .join(rules_frame(config).lazy(), on=["policy_index", "metric", "priority_key"])
        .with_columns(
            pl.coalesce("fixed_calendar", "home_calendar").alias("cal"),
            pl.when(pl.col("stop").is_not_null()).then(pl.max_horizontal("start", "stop")).alias("stop"),
            (pl.col("target_minutes") * US_PER_MINUTE).round().cast(pl.Int64).alias("target_us"),
        )
        .with_columns(pl.coalesce("stop", pl.lit(now).cast(UTC_DATETIME)).alias("end"))
    )


def _counted(prepared: pl.LazyFrame, segments: pl.LazyFrame, table: CalendarTable) -> pl.LazyFrame:
    """``KEY, elapsed_us, due_cross_at``: counted time of clocks that pause, and when they reached target."""
    pausable = prepared.filter(pl.col("pause_mask") != 0).select(
        *KEY, "start", "end", "cal", "business_hours", "pause_mask", "target_us"
    )
    pieces = (
        pausable.join(segments, on="interaction_id")
        .filter(
            (pl.col("seg_start") < pl.col("end"))
            & (pl.col("seg_end").is_null() | (pl.col("seg_end") > pl.col("start")))
            & ((pl.col("pause_mask") & pl.col("status_bit")) == 0)
        )
        .with_columns(
            pl.max_horizontal("seg_start", "start").alias("a"),
            pl.min_horizontal(pl.col("seg_end").fill_null(pl.col("end")), "end").alias("b"),
        )
        .with_columns(clock_expr(table, pl.col("a")).alias("clock_a"))
        .with_columns((clock_expr(table, pl.col("b")) - pl.col("clock_a")).alias("piece"))
        .sort(*KEY, "a")
    )
    # Counted time before each piece within its clock: a running total restarted at each clock's first row.
    first = pl.any_horizontal(*(pl.col(k) != pl.col(k).shift(1) for k in KEY)).fill_null(True)
    running_total = pl.col("piece").cum_sum()
    before = (
        running_total - pl.col("piece") - pl.when(first).then(running_total - pl.col("piece")).forward_fill()
    )
    crossing = (before < pl.col("target_us")) & (before + pl.col("piece") >= pl.col("target_us"))
    pieces = pieces.with_columns(before.alias("before")).with_columns(
        pl.when(crossing)
        .then(pl.col("clock_a") + pl.col("target_us") - pl.col("before"))
        .alias("due_cross_clock")
    )
    return (
        with_instant(pieces, table, "due_cross_clock", "due_cross_at")
        .group_by(KEY)
        .agg(
            # a stretch outside the calendars' range leaves the whole clock unknown, not shorter
            pl.when(pl.col("piece").null_count() == 0).then(pl.col("piece").sum()).alias("elapsed_us"),
            pl.col("due_cross_at").drop_nulls().first(),
            pl.lit(True).alias("has_pieces"),
        )
    )


def _with_status(frame: pl.LazyFrame, slots: int) -> pl.LazyFrame:
    target = pl.col("target_minutes")
    elapsed = pl.col("elapsed_minutes")
    percent = elapsed / target * 100
    level = pl.max_horizontal(
        *(pl.when(percent >= pl.col(f"warn_{i}")).then(pl.col(f"warn_{i}")) for i in range(slots))
    )
    running = pl.col("stop").is_null()
    status = (
        pl.when(target.is_null() | elapsed.is_null())  # no target, or a start before the calendars' range
        .then(pl.lit("not_applicable"))
        .when(elapsed > target)
        .then(pl.lit("breached"))
        .when(pl.col("completed"))
        .then(pl.lit("met"))
        .when(~running)
        .then(pl.lit("not_applicable"))  # stopped without its goal, e.g. solved before any reply
        .when(pl.col("paused_now"))
        .then(pl.lit("paused"))
        .when(level.is_not_null())
        .then(pl.lit("at_risk"))
        .otherwise(pl.lit("running"))
    )
    return frame.with_columns(status.alias("status"), level.alias("warning_level"))


def evaluate_detailed(
    interactions: pl.LazyFrame, events: pl.LazyFrame, config: SlaConfig, now: datetime
) -> pl.LazyFrame:
    """Like :func:`evaluate`, plus ``started_at, calendar, business_hours, paused_now, warning_level``."""
    table = table_for(config, now)
    known = interactions.filter(pl.col("created_at") <= now)
    # These feed several branches of the plan; cache() computes each once per collect.
    facts = history(known, events, now).cache()
    segments = segments_of(facts).cache()
    prepared = prepare_clocks(known, facts, config, now).cache()
    counted = _counted(prepared, segments, table)
    now_status = current_status(segments)
    frame = (
        prepared.join(counted, on=KEY, how="left")
        .join(now_status, on="interaction_id", how="left")
        .with_columns(clock_expr(table, pl.col("end")).alias("clock_end"))
        .with_columns(
            pl.when(pl.col("pause_mask") == 0)
            .then(pl.col("clock_end") - clock_expr(table, pl.col("start")))
            .when(pl.col("has_pieces").is_null())  # every stretch paused: nothing counted yet
            .then(pl.lit(0, pl.Int64))
            .otherwise(pl.col("elapsed_us"))
            .alias("elapsed_us"),
            (
                pl.col("stop").is_null()
                & ((pl.col("pause_mask") & pl.col("current_status_bit").fill_null(0)) != 0)
            ).alias("paused_now"),
        )
        .with_columns(
            pl.when(pl.col("due_cross_at").is_null() & ~pl.col("paused_now"))
            .then(pl.col("clock_end") + pl.col("target_us") - pl.col("elapsed_us"))
            .alias("due_clock")
        )
    )
    frame = with_instant(frame, table, "due_clock", "projected_due_at").with_columns(
        (pl.col("elapsed_us") / US_PER_MINUTE).alias("elapsed_minutes"),
        pl.coalesce("due_cross_at", "projected_due_at").alias("due_at"),
        pl.when(pl.col("completed")).then(pl.col("stop")).alias("completed_at"),
        pl.col("start").alias("started_at"),
        pl.col("cal").replace_strict(dict(enumerate(table.names)), return_dtype=pl.String).alias("calendar"),
    )
    frame = _with_status(frame, warning_slots(config))
    columns = list(DETAIL_SCHEMA)
    periodic = pl.col("metric") == Metric.PERIODIC_UPDATE.value
    other = frame.filter(~periodic).select(columns)
    return pl.concat([other, _longest_gap(frame.filter(periodic), columns)]).cast(DETAIL_SCHEMA)  # type: ignore[arg-type]


def _longest_gap(gaps: pl.LazyFrame, columns: list[str]) -> pl.LazyFrame:
    """periodic_update: one row per interaction, the longest gap between updates; a gap still open at
    ``now`` decides the live status unless a longer one already breached."""
    by_length = [
        pl.col(c).sort_by("elapsed_minutes", descending=True).first()
        for c in columns
        if c != "interaction_id"
    ]
    open_gap = pl.col("completed_at").is_null() & pl.col("status").is_in(["running", "at_risk", "paused"])
    summary = gaps.group_by("interaction_id").agg(
        *by_length,
        pl.col("status").filter(open_gap).last().alias("open_status"),
        pl.col("due_at").filter(open_gap).last().alias("open_due"),
        pl.col("started_at").filter(open_gap).last().alias("open_started"),
    )
    return summary.with_columns(
        pl.lit(1, pl.Int32).alias("cycle"),
        pl.when(pl.col("status") == "breached")
        .then(pl.lit("breached"))
        .otherwise(pl.coalesce("open_status", "status"))
        .alias("status"),
        pl.coalesce("open_due", "due_at").alias("due_at"),
        pl.when(pl.col("open_status").is_null()).then(pl.col("completed_at")).alias("completed_at"),
    ).select(columns)


def evaluate(
    interactions: pl.LazyFrame, events: pl.LazyFrame, config: SlaConfig, now: datetime
) -> pl.LazyFrame:
    """One row per interaction x metric x cycle with :data:`RESULT_COLUMNS`.

    Metrics a matched policy does not define produce no rows; a metric without a target for the
    interaction's priority gives ``not_applicable`` with the elapsed time still measured.
    """
    return evaluate_detailed(interactions, events, config, now).select(RESULT_COLUMNS)


def evaluate_subset(
    interactions: pl.LazyFrame,
    events: pl.LazyFrame,
    config: SlaConfig,
    now: datetime,
    interaction_ids: Iterable[str],
) -> pl.LazyFrame:
    """Re-evaluate only the given interactions (after their events changed); merge the rows by
    ``interaction_id`` into earlier results."""
    ids = pl.Series("interaction_id", list(interaction_ids), dtype=pl.String)
    wanted = pl.col("interaction_id").is_in(ids.implode())
    return evaluate(interactions.filter(wanted), events.filter(wanted), config, now)
