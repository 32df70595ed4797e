"""Compliance aggregates over evaluated clocks, always with the number of clocks behind each figure.

    compliance(results, interactions, by=["team", "location", "week"], config=config.sla)

A clock counts once it is decided: ``met`` or ``breached`` (a running clock past its target is already
breached). ``compliance`` is met / n, null when n is 0. Running, at-risk and paused clocks are counted
beside it so a page can show the live queue next to the rate.

When the history is too large to hold, ``compliance_in_slices`` evaluates ranges of interactions two at a
time (``sla.evaluate.slices_by_interaction``), keeping of each only what the counts need (``sla.tally``),
and gives the same frame as ``compliance``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime

import numpy as np
import polars as pl

from servicelens.model import INTERACTION_SCHEMA
from sla.calendar import local_days
from sla.config import SlaConfig
from sla.evaluate import DETAIL_SCHEMA, STATUSES
from sla.tally import Tally, tallies

GROUPABLE = ("team", "location", "agent", "channel", "priority", "week", "policy", "metric")
STATUS_ENUM = pl.Enum(list(STATUSES))
COUNTED = ("running", "at_risk", "paused", "not_applicable")
SLICES_IN_FLIGHT = 2


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
    Columns: the keys, ``n`` (decided clocks), ``met``, ``breached``, ``running``, ``at_risk``, ``paused``,
    ``not_applicable``, ``median_elapsed_minutes`` (linear interpolation) and ``compliance``.
    """
    keys = _group_keys(by)
    clocks = _grouped_clocks(results, interactions, keys, config)
    median = pl.col("elapsed_minutes").filter(_decided()).median().alias("median_elapsed_minutes")
    return _finished(clocks.group_by(keys).agg(*_counts(), median), keys)


def compliance_in_slices(
    slices: Iterable[tuple[pl.LazyFrame, pl.LazyFrame]],
    config: SlaConfig,
    now: datetime,
    by: Sequence[str] = ("metric",),
) -> pl.DataFrame:
    """``compliance(evaluate_detailed(...), ...)`` over a history handed over one part at a time.

    ``slices`` yields ``(interactions, events)`` pairs that each hold whole interactions with all their
    events, no interaction in two pairs (``sla.evaluate.slices_by_interaction`` cuts lazy scans that way).
    Each pair is evaluated (``sla.tally``: only what the counts need) and reduced to counts per group; two
    pairs are evaluated at a time, on two threads, so memory follows two pairs plus 12 bytes per decided
    clock (kept for the exact median).
    """
    keys = _group_keys(by)
    counts: list[pl.DataFrame] = []
    elapsed: list[pl.DataFrame] = []
    groups = pl.DataFrame()

    def merge(parts: list[Tally]) -> None:
        nonlocal groups
        for part in parts:
            groups = _with_new_groups(groups, part.groups.select(keys))
            numbers = part.groups.select(keys).join(
                groups, on=keys, how="left", nulls_equal=True, maintain_order="left"
            )["group"]
            counts.append(part.groups)
            elapsed.append(
                pl.DataFrame(
                    {"group": numbers.gather(part.decided_group), "elapsed_minutes": part.decided_elapsed}
                )
            )

    # Polars and numpy release the GIL, so a second range evaluated meanwhile uses the other core; more
    # in flight would only add memory.
    with ThreadPoolExecutor(max_workers=SLICES_IN_FLIGHT) as pool:
        in_flight: deque[Future[list[Tally]]] = deque()
        for interactions, events in slices:
            if len(in_flight) == SLICES_IN_FLIGHT:
                merge(in_flight.popleft().result())
            in_flight.append(pool.submit(tallies, interactions, events, config, now, keys))
        while in_flight:
            merge(in_flight.popleft().result())
    if not counts:
        nothing = pl.LazyFrame(schema=DETAIL_SCHEMA)
        return compliance(nothing, pl.LazyFrame(schema=INTERACTION_SCHEMA), by, config).collect()
    summed = pl.concat(counts).group_by(keys).agg(pl.exclude(keys).sum())
    medians = (
        pl.concat(elapsed)
        .lazy()
        .group_by("group")
        .agg(pl.col("elapsed_minutes").median().alias("median_elapsed_minutes"))
        .join(groups.lazy(), on="group")
        .drop("group")
        .collect()
    )
    merged = summed.cast(counts[0].schema).join(
        medians, on=keys, how="left", maintain_order="left", nulls_equal=True
    )
    return _finished(merged.lazy(), keys).collect()


def _group_keys(by: Sequence[str]) -> list[str]:
    keys = list(dict.fromkeys(["metric", *by]))
    unknown = [k for k in keys if k not in GROUPABLE]
    if unknown:
        raise ValueError(f"cannot group compliance by {unknown}; choose from {list(GROUPABLE)}")
    return keys


def _grouped_clocks(
    results: pl.LazyFrame, interactions: pl.LazyFrame, keys: list[str], config: SlaConfig | None
) -> pl.LazyFrame:
    """One row per clock: the group ``keys``, ``elapsed_minutes`` and ``status_code``.

    Text keys are grouped as categoricals (one hash per row instead of one per comparison) and turned back
    into text at the end; the status becomes its position in STATUSES.
    """
    attributes = [k for k in keys if k in ("team", "location", "agent", "channel", "priority")]
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
            how="left",  # any row order: the clocks are only counted per group
        )
    if "week" in keys:
        if config is None:
            frame = frame.with_columns(pl.col("started_at").dt.date().dt.truncate("1w").alias("week"))
        else:
            frame = frame.with_columns(local_week_expr(config))
    return frame.select(*keys, "elapsed_minutes", "status_code")


def _count(status: str) -> pl.Expr:
    return (pl.col("status_code") == STATUSES.index(status)).sum()


def _decided() -> pl.Expr:
    return pl.col("status_code").is_in([STATUSES.index("met"), STATUSES.index("breached")])


def _counts() -> list[pl.Expr]:
    met, breached = _count("met"), _count("breached")
    return [
        (met + breached).alias("n"),
        met.alias("met"),
        breached.alias("breached"),
        *(_count(s).alias(s) for s in COUNTED),
    ]


def _with_new_groups(groups: pl.DataFrame, seen: pl.DataFrame) -> pl.DataFrame:
    """``groups`` (keys and a ``group`` number) extended by the key combinations of ``seen`` it lacks."""
    if groups.is_empty():
        return seen.with_columns(pl.int_range(pl.len(), dtype=pl.UInt32).alias("group"))
    new = seen.join(groups, on=seen.columns, how="anti", nulls_equal=True)
    numbered = new.with_columns((pl.int_range(pl.len(), dtype=pl.UInt32) + groups.height).alias("group"))
    return pl.concat([groups, numbered])


def _finished(aggregates: pl.LazyFrame, keys: list[str]) -> pl.LazyFrame:
    text_keys = [k for k in keys if k != "week"]
    return (
        aggregates.select(*keys, "n", "met", "breached", *COUNTED, "median_elapsed_minutes")
        .with_columns(
            pl.col(text_keys).cast(pl.String),
            pl.when(pl.col("n") > 0).then(pl.col("met") / pl.col("n")).alias("compliance"),
        )
        .sort(keys, nulls_last=True)
    )
