"""Clock windows from the event history: one sorted, integer-encoded history and the cycles of every metric.

Everything here is calendar-agnostic: it says when each clock starts and stops and which status the
interaction was in at each moment. ``sla.evaluate`` turns that into business minutes with the calendars.

The history is encoded once into four narrow columns (``key`` = the interaction's row number, ``at`` in
µs, ``order`` and ``status`` codes) and sorted once by ``(key, at, order)``. Because every interaction's
rows are then contiguous and start with its creation, milestones, cycles and "the next reply after this
row" are plain shifts and fills over the whole frame: no joins, no per-group windows.

Events after ``now`` are ignored, so that an evaluation "as of" a past instant sees exactly what was known
then; so are events before the interaction's creation, where its status history starts.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

from servicelens.model import EventType, Status
from sla.config import Metric

# Status codes: the position in ``Status``; any other value a source left in a status change is OTHER.
STATUS_CODE: dict[str, int] = {status.value: index for index, status in enumerate(Status)}
OTHER_STATUS = len(STATUS_CODE)
STATUS_ENUM = pl.Enum(list(STATUS_CODE))
# Bit of each status code in a pause mask; OTHER pauses nothing.
STATUS_BITS: dict[str, int] = {status: 1 << code for status, code in STATUS_CODE.items()}
BIT_OF_CODE = pl.Series("bit", [*(1 << code for code in range(OTHER_STATUS)), 0], dtype=pl.Int64)
DONE_CODES = [STATUS_CODE[Status.SOLVED.value], STATUS_CODE[Status.CLOSED.value]]
NEW_CODE = STATUS_CODE[Status.NEW.value]
SOLVED_CODE = STATUS_CODE[Status.SOLVED.value]

# Sort order of facts at one instant: creation, customer message, reply, status change, then the
# ``resolved_at`` stand-in for a missing solve.
ORDER_CREATED, ORDER_CUSTOMER, ORDER_REPLY, ORDER_STATUS, ORDER_RESOLVED = 0, 1, 2, 3, 4
# Milestone kinds.
CREATED, CUSTOMER, REPLY, SOLVE, REOPEN = 0, 1, 2, 3, 4

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
METRIC_DTYPE = pl.Enum([m.value for m in Metric])
HISTORY_SCHEMA: dict[str, pl.DataType] = {
    "key": pl.UInt32(),
    "at": pl.Int64(),
    "order": pl.UInt8(),
    "status": pl.UInt8(),
}
# Metrics that need customer messages, or public replies, in the history.
NEEDS_CUSTOMER = {Metric.NEXT_RESPONSE}
NEEDS_REPLY = {Metric.FIRST_RESPONSE, Metric.NEXT_RESPONSE, Metric.PERIODIC_UPDATE}


def pause_mask(statuses: list[Status] | tuple[Status, ...]) -> int:
    mask = 0
    for status in statuses:
        mask |= STATUS_BITS[status.value]
    return mask


def micros(column: str) -> pl.Expr:
    """A UTC datetime column as µs since the epoch."""
    return pl.col(column).dt.cast_time_unit("us").cast(pl.Int64)


def to_micros(instant: datetime) -> int:
    """µs since the epoch of an aware instant, exactly (no float rounding)."""
    return (instant - EPOCH) // timedelta(microseconds=1)


def encode_history(
    known: pl.DataFrame, events: pl.LazyFrame, now: datetime, metrics: set[Metric]
) -> pl.DataFrame:
    """The unsorted :data:`HISTORY_SCHEMA` rows of the ``known`` interactions (row number = ``key``).

    ``known`` has ``interaction_id, created_us, first_response_us, resolved_us``. A connector may deliver
    ``first_response_at`` without reply events, or ``resolved_at`` without status events; each then stands
    for the missing event.
    """
    talk = []
    if metrics & NEEDS_CUSTOMER:
        talk.append(EventType.CUSTOMER_MESSAGE.value)
    if metrics & NEEDS_REPLY:
        talk.append(EventType.AGENT_REPLY.value)
    change = pl.col("type") == EventType.STATUS_CHANGE.value
    order = (
        pl.when(change)
        .then(pl.lit(ORDER_STATUS, pl.UInt8))
        .when(pl.col("type") == EventType.AGENT_REPLY.value)
        .then(pl.lit(ORDER_REPLY, pl.UInt8))
        .otherwise(pl.lit(ORDER_CUSTOMER, pl.UInt8))
    )
    status = pl.when(change).then(
        pl.col("status").cast(STATUS_ENUM, strict=False).to_physical().fill_null(OTHER_STATUS).cast(pl.UInt8)
    )
    wanted = pl.col("type").is_in([*talk, EventType.STATUS_CHANGE.value]) & (pl.col("at") <= now)
    rows = (
        events.select("interaction_id", "at", "type", "status")
        .filter(wanted & (~change | pl.col("status").is_not_null()))
        .select("interaction_id", micros("at").alias("at"), order.alias("order"), status.alias("status"))
        .collect()
    )
    keys = _event_keys(rows["interaction_id"], known["interaction_id"])
    if keys is None:  # repeated ids: every interaction of that id gets the event
        ids = known.select("interaction_id").with_row_index("key")
        rows = rows.join(ids, on="interaction_id", maintain_order="left")
    else:
        rows = rows.with_columns(keys.alias("key")).filter(pl.col("key").is_not_null())
    created_us = known["created_us"]
    encoded = rows.filter(pl.col("at") >= pl.lit(created_us).gather(pl.col("key"))).select(
        "key", "at", "order", "status"
    )
    created = known.select(
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("key"),
        pl.col("created_us").alias("at"),
        pl.lit(ORDER_CREATED, pl.UInt8).alias("order"),
        pl.lit(NEW_CODE, pl.UInt8).alias("status"),
    )
    parts = [created, encoded]
    if metrics & NEEDS_REPLY:
        parts.append(_stand_ins(known, encoded, "first_response_us", ORDER_REPLY, None, now))
    parts.append(_stand_ins(known, encoded, "resolved_us", ORDER_RESOLVED, SOLVED_CODE, now))
    return pl.concat([p.cast(HISTORY_SCHEMA) for p in parts])  # type: ignore[arg-type]


def _event_keys(event_ids: pl.Series, known_ids: pl.Series) -> pl.Series | None:
    """The key (row in ``known_ids``) of each event's interaction, null for an interaction not known; None
    when ``known_ids`` repeats the id of an event.

    Consecutive events of one interaction (the usual order of a store) are looked up once. When both
    sides are sorted the lookup is a merge; otherwise it joins 64-bit hashes, a fraction of the cost of
    joining text. Comparing the ids found keeps either exact: an id that only shares a hash with a known
    one, or only follows it in order, is not known.
    """
    event_ids, known_ids = event_ids.rechunk(), known_ids.rechunk()
    starts = (event_ids != event_ids.shift(1)).fill_null(True)
    heads = event_ids.filter(starts)
    if heads.null_count() + known_ids.null_count() == 0 and heads.is_sorted() and known_ids.is_sorted():
        if (known_ids == known_ids.shift(1)).any():
            return None  # an id known twice
        # Both sorted, as a store's index or sorted files give: one merge pass finds each id.
        found = heads.to_frame("id").join_asof(
            known_ids.to_frame("id").with_row_index("key").set_sorted("id"), on="id", strategy="backward"
        )["key"]
        key = found.scatter((known_ids.gather(found) != heads).fill_null(True).arg_true(), None)
        return key.gather(starts.cum_sum() - 1)
    lookup = pl.LazyFrame({"hash": known_ids.hash()}).with_row_index("key")
    matched = (
        pl.LazyFrame({"hash": heads.hash()})
        .with_row_index("head")
        .join(lookup, on="hash")
        .filter(pl.lit(known_ids).gather(pl.col("key")) == pl.lit(heads).gather(pl.col("head")))
        .collect()
    )
    head = matched["head"].to_numpy()
    if np.bincount(head, minlength=len(heads)).max(initial=0) > 1:
        return None  # an id known twice
    key = pl.repeat(None, len(heads), dtype=pl.UInt32, eager=True).scatter(head, matched["key"])
    return key.gather(starts.cum_sum() - 1)


def _stand_ins(
    known: pl.DataFrame, encoded: pl.DataFrame, column: str, order: int, status: int | None, now: datetime
) -> pl.DataFrame:
    """Rows for ``column`` (first response or resolution) of interactions whose events lack that kind."""
    candidates = known.select(
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("key"), pl.col(column).alias("at"), "created_us"
    ).filter(
        pl.col("at").is_not_null() & (pl.col("at") <= to_micros(now)) & (pl.col("at") >= pl.col("created_us"))
    )
    empty = pl.DataFrame(schema=HISTORY_SCHEMA)
    if candidates.is_empty():
        return empty
    kind = pl.col("order") == order if status is None else pl.col("status").is_not_null()
    present = encoded.filter(kind & (pl.col("order") != ORDER_CREATED)).select("key").unique()
    return candidates.join(present, on="key", how="anti").select(
        "key",
        "at",
        pl.lit(order, pl.UInt8).alias("order"),
        pl.lit(status, pl.UInt8).alias("status"),
    )


def sort_history(history: pl.DataFrame) -> pl.DataFrame:
    """Sorted by interaction, instant and tie order; simultaneous status changes keep their input order."""
    return history.sort("key", "at", "order", maintain_order=True)


def milestones(history: pl.DataFrame) -> pl.DataFrame:
    """Add ``first, last, group_end, state, kind`` to a sorted history.

    ``state`` is the status code in force after the row; ``kind`` the milestone (creation, customer
    message, reply, solve, reopen; null for a status change that is neither); ``group_end`` the row number
    of the interaction's last row.
    """
    index = pl.int_range(pl.len(), dtype=pl.Int64)
    first = (pl.col("key") != pl.col("key").shift(1)).fill_null(True)
    last = (pl.col("key") != pl.col("key").shift(-1)).fill_null(True)
    # Each interaction's first row is its creation (status new), so fills never cross interactions.
    state = pl.col("status").forward_fill()
    done = pl.col("state").is_in(DONE_CODES)
    was_done = done.shift(1).fill_null(False)
    is_status = pl.col("status").is_not_null()
    kind = (
        pl.when(pl.col("order") == ORDER_CREATED)
        .then(pl.lit(CREATED, pl.UInt8))
        .when(pl.col("order") == ORDER_CUSTOMER)
        .then(pl.lit(CUSTOMER, pl.UInt8))
        .when(pl.col("order") == ORDER_REPLY)
        .then(pl.lit(REPLY, pl.UInt8))
        .when(is_status & done & ~was_done)
        .then(pl.lit(SOLVE, pl.UInt8))
        .when(is_status & ~done & was_done)
        .then(pl.lit(REOPEN, pl.UInt8))
    )
    return history.with_columns(first.alias("first"), last.alias("last"), state.alias("state")).with_columns(
        kind.alias("kind"),
        pl.when(pl.col("last")).then(index).backward_fill().alias("group_end"),
    )


CLOCK_SCHEMA: dict[str, pl.DataType] = {
    "key": pl.UInt32(),
    "cycle": pl.Int32(),
    "start_row": pl.Int64(),
    "stop_row": pl.Int64(),
    "completed": pl.Boolean(),
}
NO_KIND = 255


def _next_of(rows: np.ndarray, starts: np.ndarray, group_end: np.ndarray) -> np.ndarray:
    """For each start row, the first of ``rows`` (sorted) after it in the same interaction, else -1."""
    if len(rows) == 0:
        return np.full(len(starts), -1, dtype=np.int64)
    at = np.searchsorted(rows, starts, side="right")
    found = rows[np.minimum(at, len(rows) - 1)]
    return np.where((at < len(rows)) & (found <= group_end[starts]), found, -1)


def _cycle_numbers(keys: np.ndarray) -> np.ndarray:
    """1, 2, … along runs of equal keys (the start rows of one interaction are adjacent)."""
    index = np.arange(len(keys))
    first = np.ones(len(keys), dtype=bool)
    first[1:] = keys[1:] != keys[:-1]
    return (index - np.maximum.accumulate(np.where(first, index, 0)) + 1).astype(np.int32)


def cycles(history: pl.DataFrame, metric: Metric) -> pl.DataFrame:
    """:data:`CLOCK_SCHEMA`: one row per cycle of ``metric`` in a :func:`milestones` frame.

    ``start_row`` and ``stop_row`` are row numbers in ``history``; ``stop_row`` null means the clock still
    runs at ``now``; ``completed`` false with a stop means it stopped without its goal (solved before any
    reply). requester_wait and agent_work have one clock over the whole life, stopped by the last solve
    while the interaction is solved or closed.
    """
    kind = history["kind"].fill_null(NO_KIND).to_numpy()
    group_end = history["group_end"].to_numpy()
    keys = history["key"].to_numpy()
    solves = np.flatnonzero(kind == SOLVE)
    if metric in (Metric.REQUESTER_WAIT, Metric.AGENT_WORK):
        starts = np.flatnonzero(kind == CREATED)
        ends = group_end[starts]
        done = np.isin(history["state"].to_numpy()[ends], DONE_CODES)
        # A done state at the end implies a solve after creation: the last one before the end stops it.
        last_solve = (
            solves[np.maximum(np.searchsorted(solves, ends, side="right") - 1, 0)] if len(solves) else ends
        )
        stop = np.where(done, last_solve, -1)
        completed = done
    else:
        if metric == Metric.FIRST_RESPONSE:
            starts = np.flatnonzero(kind == CREATED)
        elif metric == Metric.NEXT_RESPONSE:
            # A customer message whose previous message (or the creation) was a public reply.
            talk = np.flatnonzero(kind <= REPLY)
            follows_reply = np.zeros(len(talk), dtype=bool)
            follows_reply[1:] = kind[talk[:-1]] == REPLY
            starts = talk[(kind[talk] == CUSTOMER) & follows_reply]
        elif metric == Metric.RESOLUTION:
            starts = np.flatnonzero((kind == CREATED) | (kind == REOPEN))
        else:  # periodic_update
            starts = np.flatnonzero((kind == REPLY) | (kind == REOPEN))
        if metric == Metric.RESOLUTION:
            stop = _next_of(solves, starts, group_end)
            completed = stop >= 0
        else:
            stop = _next_of(np.flatnonzero((kind == REPLY) | (kind == SOLVE)), starts, group_end)
            completed = (stop >= 0) & (kind[np.maximum(stop, 0)] == REPLY)
            if metric == Metric.PERIODIC_UPDATE:
                completed = stop >= 0
    stop_row = pl.Series("stop_row", stop, dtype=pl.Int64).scatter(np.flatnonzero(stop < 0), None)
    return pl.DataFrame(
        {
            "key": pl.Series(keys[starts], dtype=pl.UInt32),
            "cycle": _cycle_numbers(keys[starts]),
            "start_row": pl.Series(starts, dtype=pl.Int64),
            "stop_row": stop_row,
            "completed": pl.Series(completed, dtype=pl.Boolean),
        },
        schema=CLOCK_SCHEMA,
    )


def status_segments(history: pl.DataFrame) -> pl.DataFrame:
    """``key, seg_start, seg_end, state``: stretches of constant status (``seg_end`` null: lasts at now)."""
    changes = history.filter(pl.col("status").is_not_null())
    return changes.select(
        "key",
        pl.col("at").alias("seg_start"),
        pl.when(pl.col("key").shift(-1) == pl.col("key")).then(pl.col("at").shift(-1)).alias("seg_end"),
        pl.col("status").alias("state"),
    )
