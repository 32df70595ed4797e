"""Compliance counts straight from the clocks of one range of interactions, for ``compliance_in_slices``.

Compliance needs, per clock, only its group keys, its status and its elapsed minutes; ``evaluate_detailed``
computes much more (the due instant, an inverse business-time lookup per clock; completion instants;
interaction ids and policy and calendar names as text) and ``compliance`` then joins its rows back to the
interactions by ``interaction_id``. Here the clocks are measured as in ``sla.evaluate`` (same cycles, same
counted time, same status function) and everything else is integers: the interaction attributes come
from the interactions already read, by the clock's key; the local week from the start instant and the
calendar's time zone; the groups are numbered by packing the keys' codes into one integer, and counted
with ``np.bincount``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import polars as pl

from sla.calendar import CalendarTable, local_days, table_for
from sla.clock import cycles, to_micros
from sla.config import Metric, SlaConfig
from sla.evaluate import known_clock_frames, known_interactions, metric_results
from sla.measure import STATUSES, clock_status, measure
from sla.policy import RULES_PER_POLICY, US_PER_MINUTE, metric_rules, warning_slots

ATTRIBUTES = ("team", "location", "agent", "channel", "priority")
COUNT_COLUMNS = ("n", "met", "breached", "running", "at_risk", "paused", "not_applicable")
DECIDED = (STATUSES.index("met"), STATUSES.index("breached"))
# Above this many possible key combinations the groups are numbered by sorting instead of a lookup table.
DENSE_LIMIT = 1 << 22


@dataclass(frozen=True)
class Tally:
    """The clocks of one range of interactions reduced to counts per group (``groups``: the keys, text keys
    as categoricals and ``week`` a date, then :data:`COUNT_COLUMNS`), and the elapsed minutes of every
    decided clock with the row of its group (kept for the exact median)."""

    groups: pl.DataFrame
    decided_group: np.ndarray
    decided_elapsed: np.ndarray


@dataclass(frozen=True)
class _Clocks:
    """One metric's clocks: interaction key, start, elapsed minutes (null where unknown), status code."""

    metric: Metric
    rules: pl.DataFrame
    key: np.ndarray
    start_us: np.ndarray
    elapsed: pl.Series
    status: np.ndarray


def tallies(
    interactions: pl.LazyFrame, events: pl.LazyFrame, config: SlaConfig, now: datetime, keys: Sequence[str]
) -> list[Tally]:
    """Counts per group of ``keys`` over the clocks ``evaluate_detailed(interactions, events, config, now)``
    would give, as ``sla.compliance.compliance`` groups them (``keys`` include ``metric``): one tally per
    key range of ``sla.evaluate.CHUNK_INTERACTIONS`` interactions.

    Interaction ids are taken as unique, as the model requires (``compliance`` joins by id, so it would
    count the clocks of a repeated id once per row of that id); an interaction without an id gets no
    attributes, as that join gives.
    """
    attributes = [k for k in keys if k in ATTRIBUTES]
    has_id = pl.col("interaction_id").is_not_null()
    extra = [pl.when(has_id).then(pl.col(a).cast(pl.Categorical)).alias(f"_{a}") for a in attributes]
    known = known_interactions(interactions, config, now, extra)
    table = table_for(config, now)
    now_us = to_micros(now)
    counted: list[Tally] = []
    for part, history, per_metric in known_clock_frames(known, events, config, now):
        clocks = [_clocks(part, history, rules, m, config, table, now_us) for m, rules in per_metric.items()]
        counted.append(_counted(part, clocks, config, keys))
    return counted


def _clocks(
    part: pl.DataFrame,
    history: pl.DataFrame,
    rules: pl.DataFrame,
    metric: Metric,
    config: SlaConfig,
    table: CalendarTable,
    now_us: int,
) -> _Clocks:
    if metric == Metric.PERIODIC_UPDATE:
        # Its status merges the gaps of an interaction: take it from the detailed rows.
        rows = metric_results(part, history, rules, metric, config, table, now_us)
        status = rows["status"].cast(pl.Enum(STATUSES)).to_physical().to_numpy()
        start_us = rows["started_at"].dt.cast_time_unit("us").cast(pl.Int64).to_numpy()
        return _Clocks(metric, rules, rows["_key"].to_numpy(), start_us, rows["elapsed_minutes"], status)
    clocks = cycles(history, metric)
    clocks = clocks.filter(pl.lit(rules["defined"]).gather(pl.col("key")))
    measured = measure(history, clocks, rules, table, now_us, with_due=False)
    slots = warning_slots(config)
    rule = rules["rule_code"].gather(clocks["key"])
    targets = metric_rules(config, metric).select("target_minutes", *(f"warn_{i}" for i in range(slots)))
    targets = targets[rule]
    elapsed_us = pl.Series(measured.elapsed_us).scatter(np.flatnonzero(~measured.elapsed_known), None)
    elapsed = elapsed_us / US_PER_MINUTE
    status, _ = clock_status(
        elapsed,
        targets["target_minutes"],
        [targets[f"warn_{i}"] for i in range(slots)],
        clocks["completed"].to_numpy(),
        measured.running,
        measured.paused_now,
    )
    return _Clocks(metric, rules, clocks["key"].to_numpy(), measured.start_us, elapsed, status)


def _counted(part: pl.DataFrame, metrics: list[_Clocks], config: SlaConfig, keys: Sequence[str]) -> Tally:
    """Number the groups of the clocks of one key range and count them."""
    key = np.concatenate([m.key for m in metrics] or [np.zeros(0, dtype=np.int64)])
    status = np.concatenate([m.status for m in metrics] or [np.zeros(0, dtype=np.uint8)])
    codes = [_key_codes(name, part, metrics, config, key) for name in keys]
    # Each clock's group as one integer: the keys' codes as the digits of a mixed-radix number.
    packed = np.zeros(len(key), dtype=np.int64)
    combinations = 1
    for digits, values in codes:
        packed = packed * max(len(values), 1) + digits
        combinations *= max(len(values), 1)
    group, first = _dense(packed, combinations if combinations <= DENSE_LIMIT else None)
    counts = np.bincount(group * len(STATUSES) + status, minlength=len(first) * len(STATUSES))
    by_status = counts.reshape(len(first), len(STATUSES)).astype(np.uint32).T
    columns: list[pl.Series] = []
    present = packed[first]
    for name, (_, values) in reversed(list(zip(keys, codes, strict=True))):
        columns.insert(0, values.gather(present % max(len(values), 1)).alias(name))
        present //= max(len(values), 1)
    met, breached = by_status[STATUSES.index("met")], by_status[STATUSES.index("breached")]
    counted = {"n": met + breached, **{s: by_status[i] for i, s in enumerate(STATUSES)}}
    groups = pl.DataFrame([*columns, *(pl.Series(c, counted[c]) for c in COUNT_COLUMNS)])
    decided = np.isin(status, DECIDED)
    elapsed = np.concatenate([m.elapsed.to_numpy() for m in metrics] or [np.zeros(0)])
    return Tally(groups, group[decided], elapsed[decided])


def _key_codes(
    name: str, part: pl.DataFrame, metrics: list[_Clocks], config: SlaConfig, key: np.ndarray
) -> tuple[np.ndarray, pl.Series]:
    """Per clock (``key``: its interaction), the code of its value of the group key ``name``; and the
    value of each code."""
    if name == "metric":
        codes = np.repeat(np.arange(len(metrics)), [len(m.key) for m in metrics])
        return codes, pl.Series([m.metric.value for m in metrics]).cast(pl.Categorical)
    if name == "policy":
        rule = np.concatenate([m.rules["rule_code"].to_numpy()[m.key] for m in metrics] or [key])
        names = pl.Series([p.name for p in config.all_policies()]).cast(pl.Categorical)
        return rule // RULES_PER_POLICY, names
    if name == "week":
        mondays = np.concatenate(
            [_local_mondays(config, m.rules["calendar"].to_numpy()[m.key], m.start_us) for m in metrics]
            or [key]
        )
        earliest = int(mondays.min()) if len(mondays) else 0
        weeks = (mondays - earliest) // 7
        count = int(weeks.max()) + 1 if len(weeks) else 0
        return weeks, pl.Series(earliest + 7 * np.arange(count, dtype=np.int32)).cast(pl.Date)
    values = part[f"_{name}"]  # an interaction attribute, categorical
    physical = values.to_physical()
    codes = physical.fill_null(0).to_numpy().astype(np.int64)
    codes[physical.is_null().to_numpy()] = codes.max(initial=0) + 1
    numbers, first = _dense(codes)
    return numbers[key], values.gather(first)


def _dense(codes: np.ndarray, bound: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Numbers 0..g-1 for the distinct values of non-negative ``codes`` (in the order of the values) and
    the first position of each value. ``bound``: the codes are below it, small enough for a lookup table."""
    if len(codes) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if bound is None:
        top = int(codes.max()) + 1
        if top > max(DENSE_LIMIT, 2 * len(codes)):
            _, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
            return inverse, first
        bound = top
    positions = np.arange(len(codes) - 1, -1, -1)
    first_at = np.full(bound, -1, dtype=np.int64)
    first_at[codes[::-1]] = positions  # the last write wins: the first position
    seen = first_at >= 0
    number = np.cumsum(seen) - 1
    return number[codes], first_at[seen]


def _local_mondays(config: SlaConfig, calendar: np.ndarray, instants_us: np.ndarray) -> np.ndarray:
    """Monday (days since 1970-01-01) of the local week of each instant in its calendar's time zone."""
    zones = [config.calendars[name].timezone for name in config.calendar_names()]
    days = local_days(zones, calendar, instants_us)
    return days - (days + 3) % 7  # 1970-01-01 was a Thursday
