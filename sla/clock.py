"""Clock windows from the event history: status segments, milestones and the cycles of every metric.

Everything here is calendar-agnostic: it says when each clock starts and stops and which status the
interaction was in at each moment. ``sla.evaluate`` turns that into business minutes with the calendars.

Inputs are the canonical tables of ``servicelens.model``; events after ``now`` are ignored so that an
evaluation "as of" a past instant sees exactly what was known then.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from servicelens.model import UTC_DATETIME, EventType, Status
from sla.config import Metric

STATUS_BITS: dict[str, int] = {status.value: 1 << index for index, status in enumerate(Status)}
DONE_STATUSES = [Status.SOLVED.value, Status.CLOSED.value]

METRIC_DTYPE = pl.Enum([m.value for m in Metric])

# Milestone kinds, in the order used to break ties at one instant.
CREATED, CUSTOMER, REPLY, SOLVE, REOPEN = 0, 1, 2, 3, 4

CYCLE_SCHEMA: dict[str, pl.DataType] = {
    "metric": METRIC_DTYPE,
    "cycle": pl.Int32(),
    "start": UTC_DATETIME,
    "stop": UTC_DATETIME,
    "completed": pl.Boolean(),
}


def pause_mask(statuses: list[Status] | tuple[Status, ...]) -> int:
    mask = 0
    for status in statuses:
        mask |= STATUS_BITS[status.value]
    return mask


def _same_group_next(column: str, group: str = "group") -> pl.Expr:
    return pl.when(pl.col(group).shift(-1) == pl.col(group)).then(pl.col(column).shift(-1))


def _group_number(column: str = "interaction_id") -> pl.Expr:
    """Consecutive number of the group in a frame sorted by ``column``: cheaper than ``over`` on millions."""
    return (pl.col(column) != pl.col(column).shift(1)).fill_null(True).cum_sum().alias("group")


def _as_utc(column: str) -> pl.Expr:
    return pl.col(column).cast(UTC_DATETIME)


STATUS_ROW_ORDER = 3  # status changes sort after talk at the same instant: a reply then a solve


def history(interactions: pl.LazyFrame, events: pl.LazyFrame, now: datetime) -> pl.LazyFrame:
    """Every dated fact of each interaction, sorted once: ``interaction_id, at, kind, status, group``.

    Creation (status ``new``), customer messages, public agent replies and status changes up to ``now``.
    A connector may deliver ``first_response_at`` without reply events, or ``resolved_at`` without status
    events; each then stands for the missing event.
    """
    created = interactions.select(
        "interaction_id",
        _as_utc("created_at").alias("at"),
        pl.lit(CREATED, pl.Int8).alias("kind"),
        pl.lit(Status.NEW.value).alias("status"),
        pl.lit(0, pl.Int8).alias("order"),
    )
    talk = events.filter(
        pl.col("type").is_in([EventType.CUSTOMER_MESSAGE.value, EventType.AGENT_REPLY.value])
        & (pl.col("at") <= now)
    ).select(
        "interaction_id",
        _as_utc("at").alias("at"),
        pl.when(pl.col("type") == EventType.AGENT_REPLY.value)
        .then(pl.lit(REPLY, pl.Int8))
        .otherwise(pl.lit(CUSTOMER, pl.Int8))
        .alias("kind"),
        pl.lit(None, pl.String).alias("status"),
        pl.when(pl.col("type") == EventType.AGENT_REPLY.value)
        .then(2)
        .otherwise(1)
        .cast(pl.Int8)
        .alias("order"),
    )
    replies_known = talk.filter(pl.col("kind") == REPLY).select("interaction_id").unique()
    first_reply_only = (
        interactions.filter(pl.col("first_response_at").is_not_null() & (pl.col("first_response_at") <= now))
        .join(replies_known, on="interaction_id", how="anti")
        .select(
            "interaction_id",
            _as_utc("first_response_at").alias("at"),
            pl.lit(REPLY, pl.Int8).alias("kind"),
            pl.lit(None, pl.String).alias("status"),
            pl.lit(2, pl.Int8).alias("order"),
        )
    )
    changes = events.filter(
        (pl.col("type") == EventType.STATUS_CHANGE.value)
        & (pl.col("at") <= now)
        & pl.col("status").is_not_null()
    ).select(
        "interaction_id",
        _as_utc("at").alias("at"),
        pl.lit(None, pl.Int8).alias("kind"),
        "status",
        pl.lit(STATUS_ROW_ORDER, pl.Int8).alias("order"),
    )
    resolved_only = (
        interactions.filter(pl.col("resolved_at").is_not_null() & (pl.col("resolved_at") <= now))
        .join(changes.select("interaction_id").unique(), on="interaction_id", how="anti")
        .select(
            "interaction_id",
            _as_utc("resolved_at").alias("at"),
            pl.lit(None, pl.Int8).alias("kind"),
            pl.lit(Status.SOLVED.value).alias("status"),
            pl.lit(STATUS_ROW_ORDER + 1, pl.Int8).alias("order"),
        )
    )
    return (
        pl.concat([created, talk, first_reply_only, changes, resolved_only])
        .sort("interaction_id", "at", "order", maintain_order=True)
        .with_columns(_group_number())
    )


def segments_of(history_frame: pl.LazyFrame) -> pl.LazyFrame:
    """One row per stretch of constant status: ``interaction_id, seg_start, seg_end, status, status_bit``.

    Every interaction starts ``new`` at creation; ``status_change`` events move it on. The last segment has
    ``seg_end`` null (it still lasts at ``now``).
    """
    return history_frame.filter(pl.col("status").is_not_null()).select(
        "interaction_id",
        pl.col("at").alias("seg_start"),
        _same_group_next("at").alias("seg_end"),
        "status",
        pl.col("status").replace_strict(STATUS_BITS, default=0, return_dtype=pl.Int64).alias("status_bit"),
    )


def status_segments(interactions: pl.LazyFrame, events: pl.LazyFrame, now: datetime) -> pl.LazyFrame:
    """:func:`segments_of` the :func:`history`."""
    return segments_of(history(interactions, events, now))


def current_status(segments: pl.LazyFrame) -> pl.LazyFrame:
    """``interaction_id, current_status_bit``: the status in force at ``now``."""
    return segments.filter(pl.col("seg_end").is_null()).select(
        "interaction_id", pl.col("status_bit").alias("current_status_bit")
    )


def milestones(history_frame: pl.LazyFrame) -> pl.LazyFrame:
    """Creation, customer messages, public agent replies, solves and reopens, in order per interaction."""
    is_status = pl.col("status").is_not_null()
    done = pl.col("status").is_in(DONE_STATUSES)
    was_done = pl.when(is_status).then(done).shift(1).forward_fill()
    status_kind = (
        pl.when(pl.col("kind") == CREATED)
        .then(pl.lit(CREATED, pl.Int8))
        .when(done & ~was_done)
        .then(pl.lit(SOLVE, pl.Int8))
        .when(~done & was_done)
        .then(pl.lit(REOPEN, pl.Int8))
    )
    kind = pl.when(is_status).then(status_kind).otherwise(pl.col("kind"))
    return history_frame.with_columns(kind.alias("kind")).filter(pl.col("kind").is_not_null())


def _next_of(kinds: list[int], name: str) -> list[pl.Expr]:
    """For each milestone: instant and kind of the next later milestone of the given kinds (same group)."""
    hit = pl.col("kind").is_in(kinds)
    return [
        pl.when(hit).then(pl.col("at")).shift(-1).backward_fill().alias(f"{name}_at"),
        pl.when(hit).then(pl.col("kind")).shift(-1).backward_fill().alias(f"{name}_kind"),
        pl.when(hit).then(pl.col("group")).shift(-1).backward_fill().alias(f"{name}_group"),
    ]


def _valid(name: str) -> pl.Expr:
    return pl.col(f"{name}_group") == pl.col("group")


def cycles(milestone_frame: pl.LazyFrame, metrics: set[Metric]) -> pl.LazyFrame:
    """``interaction_id, metric, cycle, start, stop, completed`` for the requested metrics.

    ``stop`` null means the clock still runs at ``now``; ``completed`` false with a ``stop`` means the clock
    stopped without its goal (solved before any reply).
    """
    m = milestone_frame.with_columns(
        *_next_of([REPLY, SOLVE], "answer"),
        *_next_of([SOLVE], "solve"),
        pl.when(pl.col("kind").is_in([CREATED, CUSTOMER, REPLY]))
        .then(pl.col("kind"))
        .shift(1)
        .forward_fill()
        .alias("prev_talk"),
        pl.when(pl.col("kind").is_in([CREATED, CUSTOMER, REPLY]))
        .then(pl.col("group"))
        .shift(1)
        .forward_fill()
        .alias("prev_talk_group"),
    )
    answer_at = pl.when(_valid("answer")).then(pl.col("answer_at"))
    answered = _valid("answer").fill_null(False) & (pl.col("answer_kind") == REPLY)
    solve_at = pl.when(_valid("solve")).then(pl.col("solve_at"))
    parts: list[pl.LazyFrame] = []

    def part(metric: Metric, rows: pl.Expr, stop: pl.Expr, completed: pl.Expr) -> None:
        index = pl.int_range(pl.len(), dtype=pl.Int64)
        first_of_group = (
            pl.when(pl.col("group") != pl.col("group").shift(1).fill_null(-1)).then(index).forward_fill()
        )
        parts.append(
            m.filter(rows).select(
                "interaction_id",
                pl.lit(metric.value).alias("metric"),
                (index - first_of_group + 1).cast(pl.Int32).alias("cycle"),
                pl.col("at").alias("start"),
                stop.alias("stop"),
                completed.fill_null(False).alias("completed"),
            )
        )

    if Metric.FIRST_RESPONSE in metrics:
        part(Metric.FIRST_RESPONSE, pl.col("kind") == CREATED, answer_at, answered)
    if Metric.NEXT_RESPONSE in metrics:
        after_reply = (pl.col("prev_talk") == REPLY) & (pl.col("prev_talk_group") == pl.col("group"))
        part(Metric.NEXT_RESPONSE, (pl.col("kind") == CUSTOMER) & after_reply, answer_at, answered)
    if Metric.RESOLUTION in metrics:
        part(Metric.RESOLUTION, pl.col("kind").is_in([CREATED, REOPEN]), solve_at, solve_at.is_not_null())
    if Metric.PERIODIC_UPDATE in metrics:
        part(
            Metric.PERIODIC_UPDATE, pl.col("kind").is_in([REPLY, REOPEN]), answer_at, answer_at.is_not_null()
        )
    for metric in (Metric.REQUESTER_WAIT, Metric.AGENT_WORK):
        if metric in metrics:
            # One clock over the whole life; it is complete while the interaction is solved or closed.
            last = m.group_by("interaction_id").agg(
                pl.col("at").filter(pl.col("kind") == CREATED).first().alias("start"),
                pl.col("at").filter(pl.col("kind") == SOLVE).last().alias("solved"),
                pl.col("kind").filter(pl.col("kind").is_in([SOLVE, REOPEN])).last().alias("last_kind"),
            )
            done = pl.col("last_kind") == SOLVE
            parts.append(
                last.select(
                    "interaction_id",
                    pl.lit(metric.value).alias("metric"),
                    pl.lit(1, pl.Int32).alias("cycle"),
                    "start",
                    pl.when(done).then(pl.col("solved")).alias("stop"),
                    done.fill_null(False).alias("completed"),
                )
            )
    if not parts:
        return pl.LazyFrame(schema={"interaction_id": pl.String(), **CYCLE_SCHEMA})
    return pl.concat([p.cast(CYCLE_SCHEMA) for p in parts])  # type: ignore[arg-type]
