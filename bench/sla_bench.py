"""SLA engine speed against a plain polars floor, measured in one run.

    python bench/sla_bench.py --rows 1000000 --subset 10000

Builds N synthetic interactions over six sites in six time zones, each with a status history (reply,
pending, open again, solved), then prints:

* engine: business-hours first_response and resolution (pausing in pending) plus the weekly
  team x location compliance aggregates;
* floor: the same aggregates from a plain polars group_by on calendar time, without calendars or pauses;
* their ratio, where the engine's time goes (evaluation vs compliance), and the peak resident memory;
* re-evaluation of ``--subset`` changed interactions (and 10x fewer / more): fetched from a history kept
  sorted by ``interaction_id`` (as a store's index does) and evaluated, against the full evaluation per
  interaction, to show that the cost follows the number of changed interactions, not the history's size;
  and through ``evaluate_subset`` on the whole in-memory history, which scans every row once.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from servicelens.model import EVENT_SCHEMA, INTERACTION_SCHEMA
from sla.calendar import table_for
from sla.compliance import compliance
from sla.config import SlaConfig
from sla.evaluate import evaluate_detailed, evaluate_subset

SITES = {
    "London": "Europe/London",
    "Berlin": "Europe/Berlin",
    "New York": "America/New_York",
    "Chicago": "America/Chicago",
    "Kolkata": "Asia/Kolkata",
    "Sydney": "Australia/Sydney",
}
TEAMS = ["billing", "returns", "technical", "accounts", "general"]
PRIORITIES = ["urgent", "high", "normal", "low"]
NOW = datetime(2026, 3, 31, 12, tzinfo=UTC)
MINUTE_US = 60_000_000


def config() -> SlaConfig:
    weekdays = {day: ["08:00-12:30", "13:30-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")}
    calendars = {
        name.lower().replace(" ", "_"): {"timezone": zone, "hours": weekdays} for name, zone in SITES.items()
    }
    calendars["sydney"]["hours"] = {**weekdays, "sat": ["22:00-06:00"]}  # an overnight shift
    targets = {"urgent": 60, "high": 240, "normal": 480, "low": 1440}
    return SlaConfig.model_validate(
        {
            "calendars": calendars,
            "default_calendar": "london",
            "location_calendars": {name: name.lower().replace(" ", "_") for name in SITES},
            "history_from": date(2024, 1, 1),
            "fallback": {
                "name": "standard",
                "metrics": {
                    "first_response": {"targets": targets},
                    "resolution": {
                        "targets": {k: v * 6 for k, v in targets.items()},
                        "pause_statuses": ["pending"],
                    },
                },
            },
        }
    )


def synthetic(rows: int, seed: int = 7) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Interactions and their events: reply, pending, open, a customer message, solved (some still open)."""
    rng = np.random.default_rng(seed)
    start = int(datetime(2025, 4, 1, tzinfo=UTC).timestamp() * 1_000_000)
    span = int((NOW - datetime(2025, 4, 1, tzinfo=UTC)).total_seconds() * 1_000_000)
    created = start + rng.integers(0, span, rows)
    ids = pl.Series("interaction_id", np.arange(rows)).cast(pl.String)
    sites = list(SITES)
    interactions = (
        pl.DataFrame(
            {
                "interaction_id": ids,
                "location": pl.Series(rng.integers(0, len(sites), rows)).replace_strict(
                    dict(enumerate(sites))
                ),
                "team": pl.Series(rng.integers(0, len(TEAMS), rows)).replace_strict(dict(enumerate(TEAMS))),
                "priority": pl.Series(rng.integers(0, len(PRIORITIES), rows)).replace_strict(
                    dict(enumerate(PRIORITIES))
                ),
                "created_at": pl.Series(created).cast(pl.Datetime("us", "UTC")),
            }
        )
        .with_columns(
            [
                pl.lit(None, dtype).alias(name)
                for name, dtype in INTERACTION_SCHEMA.items()
                if name not in {"interaction_id", "location", "team", "priority", "created_at"}
            ]
        )
        .select(list(INTERACTION_SCHEMA))
    )
    reply = created + rng.exponential(300 * MINUTE_US, rows).astype(np.int64)
    pending = reply + rng.integers(1, 60 * MINUTE_US, rows)
    reopen = pending + rng.exponential(600 * MINUTE_US, rows).astype(np.int64)
    message = reopen - rng.integers(0, MINUTE_US, rows)
    solved = reopen + rng.exponential(900 * MINUTE_US, rows).astype(np.int64)
    parts = []
    for times, kind, status in (
        (reply, "agent_reply", None),
        (pending, "status_change", "pending"),
        (message, "customer_message", None),
        (reopen, "status_change", "open"),
        (solved, "status_change", "solved"),
    ):
        parts.append(
            pl.DataFrame(
                {
                    "interaction_id": ids,
                    "at": pl.Series(times).cast(pl.Datetime("us", "UTC")),
                    "type": pl.Series([kind] * rows, dtype=pl.String),
                    "status": pl.Series([status] * rows, dtype=pl.String),
                }
            )
        )
    events = pl.concat(parts).filter(pl.col("at") <= NOW)
    events = events.with_columns(
        pl.lit(None, pl.String).alias("author"), pl.lit(None, pl.String).alias("body")
    )
    return interactions, events.select(list(EVENT_SCHEMA))


def engine(interactions: pl.DataFrame, events: pl.DataFrame, cfg: SlaConfig) -> pl.DataFrame:
    results = evaluate_detailed(interactions.lazy(), events.lazy(), cfg, NOW)
    return compliance(results, interactions.lazy(), by=["team", "location", "week"], config=cfg).collect()


def floor(interactions: pl.DataFrame, events: pl.DataFrame) -> pl.DataFrame:
    """Same aggregates on calendar time with one plain group_by: no calendars, pauses or cycles."""
    firsts = (
        events.lazy()
        .group_by("interaction_id")
        .agg(
            pl.col("at").filter(pl.col("type") == "agent_reply").min().alias("replied"),
            pl.col("at").filter(pl.col("status") == "solved").min().alias("solved"),
        )
    )
    targets = {"urgent": 60.0, "high": 240.0, "normal": 480.0, "low": 1440.0}
    per = (
        interactions.lazy()
        .join(firsts, on="interaction_id", how="left")
        .with_columns(pl.col("priority").replace_strict(targets, return_dtype=pl.Float64).alias("target"))
        .with_columns(
            ((pl.col("replied") - pl.col("created_at")).dt.total_minutes() <= pl.col("target")).alias(
                "fr_met"
            ),
            ((pl.col("solved") - pl.col("created_at")).dt.total_minutes() <= pl.col("target") * 6).alias(
                "res_met"
            ),
            pl.col("created_at").dt.truncate("1w").dt.date().alias("week"),
        )
    )
    return (
        per.group_by("team", "location", "week")
        .agg(
            pl.col("fr_met").count().alias("fr_n"),
            pl.col("fr_met").sum().alias("fr_met"),
            pl.col("res_met").count().alias("res_n"),
            pl.col("res_met").sum().alias("res_met"),
        )
        .collect()
    )


def timed(run: Callable[[], Any], repeat: int = 2) -> tuple[float, Any]:
    best, value = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        value = run()
        best = min(best, time.perf_counter() - started)
    return best, value


class IndexedHistory:
    """Interactions and events sorted by ``interaction_id`` once, so that the rows of given ids are found by
    binary search (what a store's index on ``interaction_id`` gives), at a cost that follows their number."""

    def __init__(self, interactions: pl.DataFrame, events: pl.DataFrame) -> None:
        self.interactions = interactions.sort("interaction_id")
        self.events = events.sort("interaction_id")

    @staticmethod
    def _rows(frame: pl.DataFrame, ids: pl.Series) -> pl.DataFrame:
        column = frame["interaction_id"]
        low = column.search_sorted(ids, side="left").cast(pl.Int64).to_numpy()
        high = column.search_sorted(ids, side="right").cast(pl.Int64).to_numpy()
        lengths = high - low
        offsets = np.repeat(low - (np.cumsum(lengths) - lengths), lengths)
        return frame[offsets + np.arange(int(lengths.sum()))]

    def rows_of(self, ids: pl.Series) -> tuple[pl.DataFrame, pl.DataFrame]:
        wanted = ids.sort()
        return self._rows(self.interactions, wanted), self._rows(self.events, wanted)


def current_rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="synthetic interactions (default 1M)")
    parser.add_argument(
        "--subset", type=int, default=10_000, help="changed interactions to re-evaluate (0: skip)"
    )
    parser.add_argument("--repeat", type=int, default=2, help="runs per measurement; the best is shown")
    args = parser.parse_args()
    cfg = config()
    built = time.perf_counter()
    interactions, events = synthetic(args.rows)
    print(
        f"rows: {interactions.height:,} interactions, {events.height:,} events ({time.perf_counter() - built:.1f} s to build)"
    )
    input_mib = current_rss_mib()
    table_seconds, _ = timed(lambda: table_for(cfg, NOW), 1)
    print(f"calendar tables: {len(cfg.calendars)} calendars, {table_seconds:.2f} s (once per config)")

    floor_s, floor_out = timed(lambda: floor(interactions, events), args.repeat)
    engine_s, engine_out = timed(lambda: engine(interactions, events, cfg), args.repeat)
    evaluate_s, evaluated = timed(
        lambda: evaluate_detailed(interactions.lazy(), events.lazy(), cfg, NOW).collect(), args.repeat
    )

    def weekly(results: pl.DataFrame = evaluated) -> pl.DataFrame:
        by = ["team", "location", "week"]
        return compliance(results.lazy(), interactions.lazy(), by=by, config=cfg).collect()

    compliance_s, _ = timed(weekly, args.repeat)
    print(f"floor  (plain group_by, calendar time): {floor_s:8.2f} s   {floor_out.height:,} groups")
    print(f"engine (business hours, pauses, cycles): {engine_s:8.2f} s   {engine_out.height:,} groups")
    print(
        f"  of which evaluate_detailed {evaluate_s:.2f} s ({evaluated.height:,} clocks), compliance {compliance_s:.2f} s"
    )
    print(f"ratio engine / floor: {engine_s / floor_s:.2f}x")
    del weekly, evaluated

    # Incremental re-evaluation of changed interactions: (a) their rows fetched through an index on
    # interaction_id, then evaluated; (b) evaluate_subset over the whole in-memory history, which scans
    # every row once to pick the ids.
    print(
        f"peak RSS after the full runs: {peak_rss_mib():,.0f} MiB"
        f" (the synthetic input alone: {input_mib:,.0f} MiB resident)"
    )
    if args.subset <= 0:
        return
    indexed = IndexedHistory(interactions, events)
    full_per_interaction = evaluate_s / interactions.height
    rng = np.random.default_rng(11)
    ids = interactions["interaction_id"]
    for size in sorted({max(1, args.subset // 10), args.subset, min(args.subset * 10, interactions.height)}):
        changed = ids.gather(rng.choice(interactions.height, size, replace=False))

        def fetched(changed: pl.Series = changed) -> pl.DataFrame:
            own_interactions, own_events = indexed.rows_of(changed)
            return evaluate_detailed(own_interactions.lazy(), own_events.lazy(), cfg, NOW).collect()

        def scan_all(changed: pl.Series = changed) -> pl.DataFrame:
            return evaluate_subset(interactions.lazy(), events.lazy(), cfg, NOW, changed.to_list()).collect()

        own, _ = timed(fetched, args.repeat)
        scanning, _ = timed(scan_all, args.repeat)
        print(
            f"re-evaluate {size:>9,} of {interactions.height:,}: {own:7.3f} s fetched by index"
            f" ({own / (full_per_interaction * size):.2f}x the full evaluation per interaction),"
            f" {scanning:7.3f} s through evaluate_subset on the full history"
        )
    print(f"peak RSS with the sorted copy for the index: {peak_rss_mib():,.0f} MiB")


if __name__ == "__main__":
    main()
