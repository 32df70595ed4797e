"""Evaluate every interaction x metric x cycle: elapsed business minutes, due time, completion and status.

    results = evaluate(interactions, events, config.sla, now)          # LazyFrame, RESULT_COLUMNS
    changed = evaluate_subset(interactions, events, config.sla, now, ids)
    slices = slices_by_interaction(pl.scan_parquet(...), pl.scan_parquet(...))   # for compliance_in_slices

Pure and retroactive: the same inputs, config and ``now`` always give the same rows, for all history.

How it stays fast: the history is integer-encoded and sorted once (``sla.clock``); interactions are then
handled in key ranges of :data:`CHUNK_INTERACTIONS` so memory stays bounded. For a clock that pauses, each
history row adds the business time until the next row while its status counts, and a running total of that
over the sorted frame gives any cycle's counted time as a difference of two gathers; the instant the target
was reached is a ``searchsorted`` on the same running total. Nothing is joined per status segment, and
business time is a gather from the per-calendar cumulative table (``sla.calendar``).

When the history does not fit in memory, :func:`slices_by_interaction` cuts lazy sources (parquet scans, a
store's query) into ranges of ``interaction_id``; ``sla.compliance.compliance_in_slices`` evaluates them one
at a time and merges the aggregates, so only one range's rows are held at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

import numpy as np
import polars as pl

from servicelens.model import UTC_DATETIME
from sla.calendar import CALENDAR_TIME, CalendarTable, clock_instants, clock_values, table_for
from sla.clock import BIT_OF_CODE, cycles, encode_history, micros, milestones, sort_history, to_micros
from sla.config import Metric, SlaConfig
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
STATUSES = ("met", "breached", "running", "at_risk", "paused", "not_applicable")
# Interactions evaluated together: bounds the working memory of a step whatever the history's size (the
# encoded history and the result rows still grow with it). Larger ranges were not faster in the bench.
CHUNK_INTERACTIONS = 1 << 19


def clock_us(table: CalendarTable, calendar: pl.Expr, instant_us: pl.Expr) -> pl.Expr:
    """Counted µs at ``instant_us`` (Int64 µs) on ``calendar`` (index; ``CALENDAR_TIME``: all time)."""
    business = table.business_us(calendar.clip(0, None), instant_us)
    return pl.when(calendar < 0).then(instant_us).otherwise(business)


def known_interactions(interactions: pl.LazyFrame, config: SlaConfig, now: datetime) -> pl.DataFrame:
    """Interactions created by ``now``, numbered by row (the ``key``), with what the clocks need."""
    return (
        interactions.filter(pl.col("created_at") <= now)
        .select(
            "interaction_id",
            micros("created_at").alias("created_us"),
            micros("first_response_at").alias("first_response_us"),
            micros("resolved_at").alias("resolved_us"),
            rule_code_expr(config),
            home_calendar_expr(config),
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
    metrics = sorted(metrics_in_use(config))
    known = known_interactions(interactions, config, now)
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
    key = clocks["key"].to_numpy()
    calendar = rules["clock_calendar"].to_numpy()[key]
    mask = rules["pause_mask"].to_numpy()[key]
    target = rules["target_us"].gather(clocks["key"])
    has_target = target.is_not_null().to_numpy()
    target_us = target.fill_null(0).to_numpy()
    at = history["at"].to_numpy()
    start_row = clocks["start_row"].to_numpy()
    running = clocks["stop_row"].is_null().to_numpy()
    stop_row = clocks["stop_row"].fill_null(0).to_numpy()
    history_end = history["group_end"].to_numpy()[start_row]
    state_now = history["state"].to_numpy()[history_end]
    paused_now = running & ((mask & BIT_OF_CODE.to_numpy()[state_now]) != 0)
    # The clock of every calendar at ``now``: the end of each running clock.
    calendars = np.arange(CALENDAR_TIME, len(table.names), dtype=np.int64)
    now_by_calendar, _ = clock_values(table, calendars, np.full(len(calendars), now_us, dtype=np.int64))
    now_clock = now_by_calendar[calendar - CALENDAR_TIME]
    if not (mask != 0).any():
        # Nothing pauses: counted time is the calendar's clock at the end minus at the start.
        start_clock, known = clock_values(table, calendar, at[start_row])
        stop_clock, stop_known = clock_values(table, calendar, at[stop_row])
        known &= running | stop_known
        end_clock = np.where(running, now_clock, stop_clock)
        elapsed = end_clock - start_clock
        due_clock = start_clock + target_us
        due_known = known & has_target
    else:
        elapsed, known, due_clock, due_known = _paused_clocks(
            history, rules, table, start_row, stop_row, running, now_by_calendar, target_us
        )
        due_known &= has_target
    return clocks.with_columns(
        start_us=pl.Series(at[start_row]),
        stop_us=pl.Series(np.where(running, 0, at[stop_row])).scatter(np.flatnonzero(running), None),
        paused_now=pl.Series(paused_now),
        elapsed_us=pl.Series(elapsed).scatter(np.flatnonzero(~known), None),
        due_at=clock_instants(
            table, calendar, pl.Series(due_clock).scatter(np.flatnonzero(~due_known), None)
        ),
    )


def _paused_clocks(
    history: pl.DataFrame,
    rules: pl.DataFrame,
    table: CalendarTable,
    start_row: np.ndarray,
    stop_row: np.ndarray,
    running: np.ndarray,
    now_by_calendar: np.ndarray,
    target_us: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Counted time of clocks that pause: ``elapsed, elapsed known, due clock, due known`` (a running clock
    paused now that has not reached its target has no due time)."""
    # Only rows where the status changes or a cycle starts or stops matter: between two of them the
    # status, and so whether the clock counts, stays the same.
    kept = history["status"].is_not_null().to_numpy().copy()
    kept[start_row] = True
    kept[stop_row[~running]] = True
    rows = np.flatnonzero(kept)
    position = np.full(len(kept), -1, dtype=np.int64)
    position[rows] = np.arange(len(rows))
    key = history["key"].to_numpy()[rows]
    state = history["state"].to_numpy()[rows]
    calendar = rules["clock_calendar"].to_numpy()[key]
    mask = rules["pause_mask"].to_numpy()[key]
    clock, valid = clock_values(table, calendar, history["at"].to_numpy()[rows])
    last = np.ones(len(rows), dtype=bool)
    last[:-1] = key[:-1] != key[1:]
    # Each row adds the counted time until the interaction's next kept row (its last row: until now)
    # while its status is outside the pause mask; ``total`` is the running sum over the whole frame, so it
    # never decreases and a cycle's counted time is the difference of two of its values.
    following = np.empty_like(clock)
    following[:-1] = clock[1:]
    following[last] = now_by_calendar[calendar[last] - CALENDAR_TIME]
    counts = ((mask & BIT_OF_CODE.to_numpy()[state]) == 0) & valid
    added = np.where(counts, following - clock, 0)
    total = np.cumsum(added)
    before = total - added
    group_end = np.flatnonzero(last)[np.cumsum(np.concatenate([[True], last[:-1]])) - 1]
    start, stop = position[start_row], position[stop_row]
    end = group_end[start]
    start_total = before[start]
    elapsed = np.where(running, total[end], before[stop]) - start_total
    end_clock = np.where(running, following[end], clock[stop])
    # The first row whose running total reaches the goal: the target was reached inside that row's
    # stretch if the row lies before the cycle's stop.
    goal = start_total + target_us
    reached = np.searchsorted(total, goal, side="left")
    crossed = reached < np.where(running, end + 1, stop)
    reached = np.minimum(reached, len(total) - 1)
    crossed_clock = clock[reached] + goal - before[reached]
    due_clock = np.where(crossed, crossed_clock, end_clock + target_us - elapsed)
    paused_now = running & ((mask[end] & BIT_OF_CODE.to_numpy()[state[end]]) != 0)
    known = valid[start]
    return elapsed, known, due_clock, known & (crossed | ~paused_now)


def _with_status(frame: pl.DataFrame, slots: int) -> pl.DataFrame:
    target = pl.col("target_minutes")
    elapsed = pl.col("elapsed_minutes")
    percent = elapsed / target * 100
    level = pl.max_horizontal(
        *(pl.when(percent >= pl.col(f"warn_{i}")).then(pl.col(f"warn_{i}")) for i in range(slots))
    )
    running = pl.col("stop_row").is_null()
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
    frame = _with_status(frame, slots)
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
        ids = ids.sort()
    lows = ids.gather_every(per_slice).unique(maintain_order=True).to_list()
    del ids
    column = pl.col("interaction_id")
    for index, low in enumerate(lows):
        wanted = column >= low
        if index + 1 < len(lows):
            wanted &= column < lows[index + 1]
        yield interactions.filter(wanted), events.filter(wanted)
