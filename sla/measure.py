"""Counted time of every clock of one metric: numpy over the sorted history, no joins.

For a clock that pauses, each history row adds the business time until the next row while its status
counts, and a running total of that over the sorted frame gives any cycle's counted time as a difference of
two gathers; the instant the target was reached is a ``searchsorted`` on the same running total. Business
time is a gather from the per-calendar cumulative table (``sla.calendar``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from sla.calendar import CALENDAR_TIME, CalendarTable, clock_values
from sla.clock import BIT_OF_CODE

_BIT_OF_CODE = BIT_OF_CODE.to_numpy()
STATUSES = ("met", "breached", "running", "at_risk", "paused", "not_applicable")
MET, BREACHED, RUNNING, AT_RISK, PAUSED, NOT_APPLICABLE = range(len(STATUSES))


@dataclass(frozen=True)
class Measured:
    """Per clock (rows of ``sla.clock.cycles``): where it starts and stops, how much time it counted and,
    when asked for, the counted time at which it is due."""

    start_us: np.ndarray  # int64
    stop_us: np.ndarray  # int64, 0 for a running clock
    running: np.ndarray  # bool: no stop yet
    paused_now: np.ndarray  # bool
    elapsed_us: np.ndarray  # int64, counted µs
    elapsed_known: np.ndarray  # bool: false for a start outside the calendars' range
    calendar: np.ndarray  # int, the clock's calendar (CALENDAR_TIME: all time)
    due_clock: np.ndarray | None = None  # int64, the calendar's clock value at the due instant
    due_known: np.ndarray | None = None  # bool


def measure(
    history: pl.DataFrame,
    clocks: pl.DataFrame,
    rules: pl.DataFrame,
    table: CalendarTable,
    now_us: int,
    with_due: bool = True,
) -> Measured:
    """Counted time of the ``clocks`` of one metric over a ``sla.clock.milestones`` frame; ``rules`` are the
    metric's attributes per key (``sla.evaluate.metric_attributes``). ``with_due=False`` skips what only the
    due time needs."""
    key = clocks["key"].to_numpy()
    calendar = rules["clock_calendar"].to_numpy()[key]
    mask = rules["pause_mask"].to_numpy()[key]
    at = history["at"].to_numpy()
    start_row = clocks["start_row"].to_numpy()
    running = clocks["stop_row"].is_null().to_numpy()
    stop_row = clocks["stop_row"].fill_null(0).to_numpy()
    history_end = history["group_end"].to_numpy()[start_row]
    state_now = history["state"].to_numpy()[history_end]
    paused_now = running & ((mask & _BIT_OF_CODE[state_now]) != 0)
    # The clock of every calendar at ``now``: the end of each running clock.
    calendars = np.arange(CALENDAR_TIME, len(table.names), dtype=np.int64)
    now_by_calendar, _ = clock_values(table, calendars, np.full(len(calendars), now_us, dtype=np.int64))
    target_us = None
    if with_due:
        target = rules["target_us"].gather(clocks["key"])
        has_target = target.is_not_null().to_numpy()
        target_us = target.fill_null(0).to_numpy()
    start_us = at[start_row]
    stop_us = np.where(running, 0, at[stop_row])
    due_clock = due_known = None
    if not (mask != 0).any():
        # Nothing pauses: counted time is the calendar's clock at the end minus at the start.
        start_clock, known = clock_values(table, calendar, start_us)
        stop_clock, stop_known = clock_values(table, calendar, stop_us)
        known &= running | stop_known
        end_clock = np.where(running, now_by_calendar[calendar - CALENDAR_TIME], stop_clock)
        elapsed = end_clock - start_clock
        if target_us is not None:
            due_clock, due_known = start_clock + target_us, known & has_target
    else:
        elapsed, known, due = _paused_clocks(
            history, rules, table, start_row, stop_row, running, now_by_calendar, target_us
        )
        if due is not None:
            due_clock, due_known = due[0], due[1] & has_target
    return Measured(start_us, stop_us, running, paused_now, elapsed, known, calendar, due_clock, due_known)


def _paused_clocks(
    history: pl.DataFrame,
    rules: pl.DataFrame,
    table: CalendarTable,
    start_row: np.ndarray,
    stop_row: np.ndarray,
    running: np.ndarray,
    now_by_calendar: np.ndarray,
    target_us: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
    """Counted time of clocks that pause: ``elapsed, elapsed known`` and, given targets, ``(due clock, due
    known)`` (a running clock paused now that has not reached its target has no due time)."""
    # Only rows where the status changes or a cycle starts or stops matter: between two of them the
    # status, and so whether the clock counts, stays the same.
    kept = history["status"].is_not_null().to_numpy().copy()
    kept[start_row] = True
    kept[stop_row[~running]] = True
    rows = np.flatnonzero(kept)
    position = np.cumsum(kept) - 1  # of each kept history row among the kept rows
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
    ends = np.flatnonzero(last)
    following[ends] = now_by_calendar[calendar[ends] - CALENDAR_TIME]
    counts = ((mask & _BIT_OF_CODE[state]) == 0) & valid
    added = np.where(counts, following - clock, 0)
    total = np.cumsum(added)
    before = total - added
    start, stop = position[start_row], position[stop_row]
    # The interaction's last kept row: the last kept one up to its last history row (its creation, the
    # first row, is kept).
    end = position[history["group_end"].to_numpy()[start_row]]
    start_total = before[start]
    elapsed = np.where(running, total[end], before[stop]) - start_total
    known = valid[start]
    if target_us is None:
        return elapsed, known, None
    end_clock = np.where(running, following[end], clock[stop])
    # The first row whose running total reaches the goal: the target was reached inside that row's
    # stretch if the row lies before the cycle's stop.
    goal = start_total + target_us
    reached = np.searchsorted(total, goal, side="left")
    crossed = reached < np.where(running, end + 1, stop)
    reached = np.minimum(reached, len(total) - 1)
    crossed_clock = clock[reached] + goal - before[reached]
    due_clock = np.where(crossed, crossed_clock, end_clock + target_us - elapsed)
    paused_now = running & ((mask[end] & _BIT_OF_CODE[state[end]]) != 0)
    return elapsed, known, (due_clock, known & (crossed | ~paused_now))


def clock_status(
    elapsed_minutes: pl.Series,
    target_minutes: pl.Series,
    warn_at: list[pl.Series],
    completed: np.ndarray,
    running: np.ndarray,
    paused_now: np.ndarray,
) -> tuple[np.ndarray, pl.Series]:
    """Each clock's status (position in :data:`STATUSES`) and warning level (null: none reached).

    ``warn_at`` holds the warning thresholds (percent of target, null: none) of each slot. Comparisons
    follow polars, which orders NaN above every number.
    """
    known = (elapsed_minutes.is_not_null() & target_minutes.is_not_null()).to_numpy()
    elapsed = elapsed_minutes.fill_null(0.0).to_numpy()
    target = target_minutes.fill_null(1.0).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        percent = elapsed / target * 100
    level = np.full(len(elapsed), np.nan)
    for threshold in warn_at:
        reached = (percent >= threshold.fill_null(np.inf).to_numpy()) | np.isnan(percent)
        reached &= threshold.is_not_null().to_numpy()
        level = np.where(reached, np.fmax(level, threshold.fill_null(0.0).to_numpy()), level)
    status = np.select(
        [
            ~known,  # no target, or a start before the calendars' range
            elapsed > target,
            completed,
            ~running,  # stopped without its goal, e.g. solved before any reply
            paused_now,
            ~np.isnan(level),
        ],
        [NOT_APPLICABLE, BREACHED, MET, NOT_APPLICABLE, PAUSED, AT_RISK],
        RUNNING,
    ).astype(np.uint8)
    return status, pl.Series("warning_level", level).fill_nan(None)
