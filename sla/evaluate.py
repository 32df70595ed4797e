"""Evaluate every interaction x metric x cycle: elapsed business minutes, due time, completion and status.

    results = evaluate(interactions, events, config.sla, now)          # LazyFrame, RESULT_COLUMNS
    changed = evaluate_subset(interactions, events, config.sla, now, ids)
    slices = slices_by_interaction(pl.scan_parquet(...), pl.scan_parquet(...))   # for compliance_in_slices

Pure and retroactive: the same inputs, config and ``now`` always give the same rows, for all history.

How it stays fast: the history is integer-encoded and sorted once (``sla.clock``); interactions are then
handled in key ranges of :data:`CHUNK_INTERACTIONS` so memory stays bounded. Each clock's counted time
comes from ``sla.measure`` (running totals over the sorted history, business time as gathers from the
per-calendar table of ``sla.calendar``); nothing is joined per status segment.

When the history does not fit in memory, :func:`slices_by_interaction` cuts lazy sources (parquet scans, a
store's query) into ranges of ``interaction_id``; ``sla.compliance.compliance_in_slices`` evaluates them two
at a time and merges the aggregates, so only those ranges' rows are held at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from itertools import pairwise

import numpy as np
import polars as pl

from servicelens.model import UTC_DATETIME
from sla.calendar import CALENDAR_TIME, CalendarTable, clock_instants, table_for
from sla.clock import cycles, encode_history, micros, milestones, sort_history, to_micros
from sla.config import Metric, SlaConfig
from sla.measure import STATUSES, clock_status, measure
from sla.policy import (
    US_PER_MINUTE,
    home_calendar_expr,
    metric_rules,
    metrics_in_use,
    rule_code_expr,
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
# Interactions evaluated together: bounds the working memory of a step whatever the history's size (the
# encoded history and the result rows still grow with it). Larger ranges were not faster in the bench.
CHUNK_INTERACTIONS = 1 << 19


def clock_us(table: CalendarTable, calendar: pl.Expr, instant_us: pl.Expr) -> pl.Expr:
    """Counted µs at ``instant_us`` (Int64 µs) on ``calendar`` (index; ``CALENDAR_TIME``: all time)."""
    business = table.business_us(calendar.clip(0, None), instant_us)
    return pl.when(calendar < 0).then(instant_us).otherwise(business)


def known_interactions(
    interactions: pl.LazyFrame, config: SlaConfig, now: datetime, extra: Sequence[pl.Expr] = ()
) -> pl.DataFrame:
    """Interactions created by ``now``, numbered by row (the ``key``), with what the clocks need and the
    ``extra`` columns."""
    return (
        interactions.filter(pl.col("created_at") <= now)
        .select(
            "interaction_id",
            micros("created_at").alias("created_us"),
            micros("first_response_at").alias("first_response_us"),
            micros("resolved_at").alias("resolved_us"),
            rule_code_expr(config),
            home_calendar_expr(config),
            *extra,
        )
        .collect()
    )


def metric_attributes(known: pl.DataFrame, rules: pl.DataFrame) -> pl.DataFrame:
    """Per interaction (same rows as ``known``) under one metric's ``rules`` (``sla.policy.metric_rules``):
    ``rule_code, defined, calendar, clock_calendar`` (``CALENDAR_TIME`` for calendar time), ``pause_mask``
    and ``target_us``."""
    rule = known["rule_code"]
    return pl.DataFrame(
        {
            "rule_code": rule,
            "defined": rules["defined"].gather(rule),
            "calendar": rules["fixed_calendar"].gather(rule).fill_null(known["home_calendar"]),
            "business_hours": rules["business_hours"].gather(rule),
            "pause_mask": rules["pause_mask"].gather(rule).fill_null(0),
            "target_us": (rules["target_minutes"].gather(rule) * US_PER_MINUTE).round().cast(pl.Int64),
        }
    ).with_columns(
        pl.when(pl.col("business_hours"))
        .then(pl.col("calendar"))
        .otherwise(pl.lit(CALENDAR_TIME, pl.Int32))
        .alias("clock_calendar"),
    )


def clock_frames(
    interactions: pl.LazyFrame, events: pl.LazyFrame, config: SlaConfig, now: datetime
) -> Iterable[tuple[pl.DataFrame, pl.DataFrame, dict[Metric, pl.DataFrame]]]:
    """Per key range: the known interactions, their sorted history (``sla.clock.milestones``) and, per
    metric, their attributes (:func:`metric_attributes`)."""
    return known_clock_frames(known_interactions(interactions, config, now), events, config, now)


def known_clock_frames(
    known: pl.DataFrame, events: pl.LazyFrame, config: SlaConfig, now: datetime
) -> Iterator[tuple[pl.DataFrame, pl.DataFrame, dict[Metric, pl.DataFrame]]]:
    """:func:`clock_frames` of interactions already read by :func:`known_interactions`."""
    metrics = sorted(metrics_in_use(config))
    # One sort of the compact history; each key range is then a zero-copy slice of it.
    history = sort_history(encode_history(known, events, now, set(metrics)))
    lows = list(range(0, max(known.height, 1), CHUNK_INTERACTIONS))
    bounds = history["key"].search_sorted(pl.Series([*lows, known.height], dtype=pl.UInt32)).to_list()
    rules = {m: metric_rules(config, m) for m in metrics}
    for chunk, low in enumerate(lows):
        high = min(low + CHUNK_INTERACTIONS, known.height)
        rows = history.slice(bounds[chunk], bounds[chunk + 1] - bounds[chunk])
        if low > 0:
            rows = rows.with_columns(pl.col("key") - low)
        part = known.slice(low, high - low)
        yield part, milestones(rows), {m: metric_attributes(part, r) for m, r in rules.items()}
        del rows


def _measured(
    history: pl.DataFrame, clocks: pl.DataFrame, rules: pl.DataFrame, table: CalendarTable, now_us: int
) -> pl.DataFrame:
    """Add ``start_us, stop_us, paused_now, elapsed_us`` and ``due_at`` to the clocks of one metric."""
    measured = measure(history, clocks, rules, table, now_us)
    assert measured.due_clock is not None and measured.due_known is not None
    due_clock = pl.Series(measured.due_clock).scatter(np.flatnonzero(~measured.due_known), None)
    return clocks.with_columns(
        start_us=pl.Series(measured.start_us),
        stop_us=pl.Series(measured.stop_us).scatter(np.flatnonzero(measured.running), None),
        paused_now=pl.Series(measured.paused_now),
        elapsed_us=pl.Series(measured.elapsed_us).scatter(np.flatnonzero(~measured.elapsed_known), None),
        due_at=clock_instants(table, measured.calendar, due_clock),
    )


def metric_results(
    known: pl.DataFrame,
    history: pl.DataFrame,
    rules: pl.DataFrame,
    metric: Metric,
    config: SlaConfig,
    table: CalendarTable,
    now_us: int,
) -> pl.DataFrame:
    """:data:`DETAIL_SCHEMA` rows of one metric for one key range (``_key`` and ``stop_row`` besides)."""
    clocks = cycles(history, metric)
    clocks = clocks.filter(pl.lit(rules["defined"]).gather(pl.col("key")))
    clocks = _measured(history, clocks, rules, table, now_us)
    slots = warning_slots(config)
    table_rules = metric_rules(config, metric)
    rule = rules["rule_code"].gather(clocks["key"])
    attributes = table_rules.select(
        "policy", "target_minutes", "business_hours", *(f"warn_{i}" for i in range(slots))
    )[rule].with_columns(rules["calendar"].gather(clocks["key"]))
    to_instant = pl.col("start_us", "stop_us").cast(UTC_DATETIME)
    frame = clocks.select(
        pl.col("key").alias("_key"),
        "cycle",
        "stop_row",
        "completed",
        "paused_now",
        "due_at",
        (pl.col("elapsed_us") / US_PER_MINUTE).alias("elapsed_minutes"),
        to_instant,
    ).hstack(attributes)
    status, level = clock_status(
        frame["elapsed_minutes"],
        frame["target_minutes"],
        [frame[f"warn_{i}"] for i in range(slots)],
        frame["completed"].to_numpy(),
        frame["stop_row"].is_null().to_numpy(),
        frame["paused_now"].to_numpy(),
    )
    frame = frame.with_columns(pl.Series("status", STATUSES).gather(status), level)
    names = pl.Series(config.calendar_names())
    frame = frame.with_columns(
        pl.lit(known["interaction_id"]).gather(pl.col("_key")).alias("interaction_id"),
        pl.lit(metric.value).alias("metric"),
        pl.when(pl.col("completed")).then(pl.col("stop_us")).alias("completed_at"),
        pl.col("start_us").alias("started_at"),
        pl.lit(names).gather(pl.col("calendar")).alias("calendar"),
    )
    frame = frame.select(*DETAIL_SCHEMA, "_key").cast(DETAIL_SCHEMA)  # type: ignore[arg-type]
    if metric == Metric.PERIODIC_UPDATE:
        return _longest_gap(frame)
    return frame


def _longest_gap(gaps: pl.DataFrame) -> pl.DataFrame:
    """periodic_update: one row per interaction, the longest gap between updates; a gap still open at
    ``now`` decides the live status unless a longer one already breached."""
    columns = [c for c in DETAIL_SCHEMA if c != "interaction_id"]
    # The longest gap; of equally long ones the first, so that the row does not depend on the sort.
    longest_first = pl.col("elapsed_minutes").fill_null(-1.0)
    by_length = [
        pl.col(c).sort_by(longest_first, pl.col("cycle"), descending=[True, False]).first() for c in columns
    ]
    open_gap = pl.col("completed_at").is_null() & pl.col("status").is_in(["running", "at_risk", "paused"])
    summary = gaps.group_by("_key", "interaction_id", maintain_order=True).agg(
        *by_length,
        pl.col("status").filter(open_gap).last().alias("open_status"),
        pl.col("due_at").filter(open_gap).last().alias("open_due"),
        pl.col("paused_now").filter(open_gap).last().alias("open_paused"),
    )
    breached = pl.col("status") == "breached"
    live = pl.col("open_status").is_not_null() & ~breached
    return summary.with_columns(
        pl.lit(1, pl.Int32).alias("cycle"),
        pl.when(live).then(pl.col("open_status")).otherwise(pl.col("status")).alias("status"),
        # A live gap paused now has no due time, even when an earlier gap had one.
        pl.when(live).then(pl.col("open_due")).otherwise(pl.col("due_at")).alias("due_at"),
        pl.when(live).then(pl.col("open_paused")).otherwise(pl.col("paused_now")).alias("paused_now"),
        pl.when(pl.col("open_status").is_null()).then(pl.col("completed_at")).alias("completed_at"),
    ).select(*DETAIL_SCHEMA, "_key")


def evaluate_detailed(
    interactions: pl.LazyFrame, events: pl.LazyFrame, config: SlaConfig, now: datetime
) -> pl.LazyFrame:
    """Like :func:`evaluate`, plus ``started_at, calendar, business_hours, paused_now, warning_level``.

    The clocks are computed when this is called; the returned frame holds them.
    """
    table = table_for(config, now)
    now_us = to_micros(now)
    parts = [pl.DataFrame(schema=DETAIL_SCHEMA)]
    for known, history, attributes in clock_frames(interactions, events, config, now):
        for metric, rules in attributes.items():
            rows = metric_results(known, history, rules, metric, config, table, now_us)
            parts.append(rows.drop("_key"))
    return pl.concat(parts).lazy()


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
    ``interaction_id`` into earlier results.

    The cost follows the number of ids, plus one scan of the frames to pick their rows; a store that can
    hand over just those rows should pass them to :func:`evaluate_detailed` directly.
    """
    ids = pl.Series("interaction_id", list(interaction_ids), dtype=pl.String)
    wanted = pl.col("interaction_id").is_in(ids.implode())
    return evaluate(interactions.filter(wanted), events.filter(wanted), config, now)


def slices_by_interaction(
    interactions: pl.LazyFrame, events: pl.LazyFrame, per_slice: int = CHUNK_INTERACTIONS
) -> Iterator[tuple[pl.LazyFrame, pl.LazyFrame]]:
    """Cut the two frames into ranges of ``interaction_id`` of about ``per_slice`` interactions each; every
    interaction's events fall in its range. The frames stay lazy: each range is a filter on them.

    Reads the ``interaction_id`` column once to place the boundaries. Sources stored sorted by
    ``interaction_id`` (parquet row groups with statistics, or an indexed table) read only the rows of a
    range; unsorted ones are scanned in full for every range, which is slower but holds no more memory.
    """
    if per_slice < 1:
        raise ValueError(f"per_slice must be at least 1, got {per_slice}")
    ids = interactions.select(pl.col("interaction_id").drop_nulls()).collect()["interaction_id"]
    if not ids.is_sorted():
        ids = _sorted(ids)
    lows = ids.gather_every(per_slice).unique(maintain_order=True).to_list()
    del ids
    column = pl.col("interaction_id")
    for index, low in enumerate(lows):
        wanted = column >= low
        if index + 1 < len(lows):
            wanted &= column < lows[index + 1]
        yield interactions.filter(wanted), events.filter(wanted)


# A column read from up to this many files, each sorted, is merged rather than sorted.
MERGED_RUNS = 64


def _sorted(ids: pl.Series) -> pl.Series:
    """``ids`` sorted. Sorted runs, as parquet files each sorted give, are merged pairwise: a few linear
    passes instead of a sort."""
    breaks = (ids < ids.shift(1)).fill_null(False).arg_true().to_list()
    if len(breaks) >= MERGED_RUNS:
        return ids.sort()
    edges = [0, *breaks, len(ids)]
    runs = [ids.slice(a, b - a).to_frame("id").set_sorted("id") for a, b in pairwise(edges)]
    while len(runs) > 1:
        pairs = [runs[i].merge_sorted(runs[i + 1], key="id") for i in range(0, len(runs) - 1, 2)]
        runs = pairs + runs[len(runs) - len(runs) % 2 :]
    return runs[0]["id"]
