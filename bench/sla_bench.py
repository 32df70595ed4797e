"""SLA engine speed and memory against a plain polars floor, measured in one run.

    python bench/sla_bench.py --rows 1000000 --subset 10000

Builds N synthetic interactions over six sites in six time zones, each with a status history (reply,
pending, open again, solved), and writes them to parquet in a temporary directory (sorted by
``interaction_id``, as a store's index keeps them) before anything is timed. Each measurement then runs in a
fresh process, so that its peak resident memory is its own:

* floor: the weekly team x location aggregates from a scan of the parquet and one plain group_by on
  calendar time, without calendars, pauses or cycles (polars' streaming engine);
* streaming: ``compliance_in_slices`` over ``slices_by_interaction`` of the same scans: business-hours
  first_response and resolution (pausing in pending) and the weekly team x location compliance, two ranges
  of interactions in memory at a time (one per core);
* in memory (``--in-memory``): the same through ``evaluate_detailed`` + ``compliance`` on the whole history
  read into memory, split into evaluation and compliance, then re-evaluation of ``--subset`` changed
  interactions (and 10x fewer / more) fetched through an index on ``interaction_id``, and through
  ``evaluate_subset`` on the whole history. Its aggregates are checked to equal the streaming ones.

Ratios are against the floor measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from servicelens.model import EVENT_SCHEMA, INTERACTION_SCHEMA
from sla.compliance import compliance, compliance_in_slices
from sla.config import SlaConfig
from sla.evaluate import CHUNK_INTERACTIONS, evaluate_detailed, evaluate_subset, slices_by_interaction

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


def synthetic(rows: int, seed: int = 7, first_id: int = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Interactions (ids ``first_id`` on) and their events: reply, pending, open, a customer message, solved
    (some still open)."""
    rng = np.random.default_rng(seed)
    start = int(datetime(2025, 4, 1, tzinfo=UTC).timestamp() * 1_000_000)
    span = int((NOW - datetime(2025, 4, 1, tzinfo=UTC)).total_seconds() * 1_000_000)
    created = start + rng.integers(0, span, rows)
    ids = pl.Series("interaction_id", np.arange(first_id, first_id + rows)).cast(pl.String)
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


BY = ["team", "location", "week"]
# Interactions generated and written per parquet file: bounds the memory of building the input.
FILE_INTERACTIONS = 1_000_000
ROW_GROUP = 65_536


def write_history(rows: int, folder: Path) -> tuple[int, int]:
    """Synthetic history as parquet files under ``folder``, each sorted by ``interaction_id``."""
    counts = [0, 0]
    for part, first in enumerate(range(0, rows, FILE_INTERACTIONS)):
        interactions, events = synthetic(min(FILE_INTERACTIONS, rows - first), seed=7 + part, first_id=first)
        for index, (name, frame) in enumerate((("interactions", interactions), ("events", events))):
            (folder / name).mkdir(exist_ok=True)
            frame.sort("interaction_id").write_parquet(
                folder / name / f"part-{part:03d}.parquet", row_group_size=ROW_GROUP
            )
            counts[index] += frame.height
    return counts[0], counts[1]


def scans(folder: Path) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    return (
        pl.scan_parquet(folder / "interactions" / "*.parquet"),
        pl.scan_parquet(folder / "events" / "*.parquet"),
    )


def floor(interactions: pl.LazyFrame, events: pl.LazyFrame) -> pl.DataFrame:
    """Same aggregates on calendar time with one plain group_by: no calendars, pauses or cycles."""
    firsts = events.group_by("interaction_id").agg(
        pl.col("at").filter(pl.col("type") == "agent_reply").min().alias("replied"),
        pl.col("at").filter(pl.col("status") == "solved").min().alias("solved"),
    )
    targets = {"urgent": 60.0, "high": 240.0, "normal": 480.0, "low": 1440.0}
    per = (
        interactions.select("interaction_id", "team", "location", "priority", "created_at")
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
        per.group_by(*BY)
        .agg(
            pl.col("fr_met").count().alias("fr_n"),
            pl.col("fr_met").sum().alias("fr_met"),
            pl.col("res_met").count().alias("res_n"),
            pl.col("res_met").sum().alias("res_met"),
        )
        .collect(engine="streaming")
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
    """This process image's high-water resident memory (``VmHWM``; unlike ``ru_maxrss`` it does not carry
    over the parent's size through fork and exec)."""
    with open("/proc/self/status") as status:
        line = next(row for row in status if row.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def measure_floor(folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    seconds, out = timed(lambda: floor(*scans(folder)), args.repeat)
    return {"seconds": seconds, "groups": out.height}


def measure_streaming(folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    cfg = config()

    def run() -> pl.DataFrame:
        slices = slices_by_interaction(*scans(folder), per_slice=args.per_slice)
        return compliance_in_slices(slices, cfg, NOW, by=BY)

    seconds, out = timed(run, args.repeat)
    out.write_parquet(folder / "streaming.parquet")
    return {"seconds": seconds, "groups": out.height}


def measure_in_memory(folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The whole history in memory: evaluate_detailed + compliance, then re-evaluation of changed ones."""
    cfg = config()
    interactions, events = (scan.collect() for scan in scans(folder))
    input_mib = current_rss_mib()

    def engine() -> pl.DataFrame:
        results = evaluate_detailed(interactions.lazy(), events.lazy(), cfg, NOW)
        return compliance(results, interactions.lazy(), by=BY, config=cfg).collect()

    engine_s, out = timed(engine, args.repeat)
    out.write_parquet(folder / "in_memory.parquet")
    evaluate_s, evaluated = timed(
        lambda: evaluate_detailed(interactions.lazy(), events.lazy(), cfg, NOW).collect(), args.repeat
    )

    def weekly(results: pl.DataFrame = evaluated) -> pl.DataFrame:
        return compliance(results.lazy(), interactions.lazy(), by=BY, config=cfg).collect()

    compliance_s, _ = timed(weekly, args.repeat)
    figures = {
        "seconds": engine_s,
        "groups": out.height,
        "evaluate_seconds": evaluate_s,
        "compliance_seconds": compliance_s,
        "clocks": evaluated.height,
        "input_mib": input_mib,
        "engine_peak_mib": peak_rss_mib(),
        "subset": [],
    }
    del weekly, evaluated
    if args.subset <= 0:
        return figures
    indexed = IndexedHistory(interactions, events)
    per_interaction = evaluate_s / interactions.height
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
        figures["subset"].append([size, own, own / (per_interaction * size), scanning])
    return figures


MEASURES = {"floor": measure_floor, "streaming": measure_streaming, "in_memory": measure_in_memory}


def run_child(measure: str, folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    """One measurement in a fresh interpreter: its peak RSS then covers only that measurement."""
    command = [
        sys.executable,
        __file__,
        f"--measure={measure}",
        f"--data={folder}",
        f"--repeat={args.repeat}",
        f"--subset={args.subset}",
        f"--per-slice={args.per_slice}",
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{measure} failed:\n{done.stderr}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def report(rows: int, args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="sla_bench_") as tmp:
        folder = Path(tmp)
        built = time.perf_counter()
        interaction_count, event_count = write_history(rows, folder)
        size_mib = sum(f.stat().st_size for f in folder.rglob("*.parquet")) / 2**20
        print(
            f"rows: {interaction_count:,} interactions, {event_count:,} events; parquet {size_mib:,.0f} MiB"
            f" ({time.perf_counter() - built:.1f} s to build and write, not timed)"
        )
        floor_run = run_child("floor", folder, args)
        streaming = run_child("streaming", folder, args)
        print(
            f"floor     (scan + group_by, calendar time): {floor_run['seconds']:7.2f} s"
            f"   peak RSS {floor_run['peak_mib']:7,.0f} MiB   {floor_run['groups']:,} groups"
        )
        print(
            f"streaming (compliance_in_slices, {args.per_slice:,} per slice): {streaming['seconds']:7.2f} s"
            f"   peak RSS {streaming['peak_mib']:7,.0f} MiB   {streaming['groups']:,} groups"
        )
        print(
            f"ratio streaming / floor: time {streaming['seconds'] / floor_run['seconds']:.2f}x,"
            f" peak RSS {streaming['peak_mib'] / floor_run['peak_mib']:.2f}x"
            f" (an idle interpreter with polars: {streaming['idle_mib']:,.0f} MiB)"
        )
        if not args.in_memory:
            return
        memory = run_child("in_memory", folder, args)
        same = pl.read_parquet(folder / "in_memory.parquet").equals(
            pl.read_parquet(folder / "streaming.parquet")
        )
        print(
            f"in memory (evaluate_detailed + compliance): {memory['seconds']:7.2f} s"
            f"   peak RSS {memory['engine_peak_mib']:7,.0f} MiB (the input read into memory:"
            f" {memory['input_mib']:,.0f} MiB)   {memory['groups']:,} groups,"
            f" {'equal to' if same else 'DIFFERENT FROM'} the streaming aggregates"
        )
        print(
            f"  of which evaluate_detailed {memory['evaluate_seconds']:.2f} s ({memory['clocks']:,} clocks),"
            f" compliance {memory['compliance_seconds']:.2f} s;"
            f" ratio to the floor {memory['seconds'] / floor_run['seconds']:.2f}x"
        )
        for size, own, relative, scanning in memory["subset"]:
            print(
                f"re-evaluate {size:>9,} of {interaction_count:,}: {own:7.3f} s fetched by index"
                f" ({relative:.2f}x the full evaluation per interaction),"
                f" {scanning:7.3f} s through evaluate_subset on the full history"
            )
        if not same:
            raise SystemExit("the streaming aggregates differ from the in-memory ones")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="synthetic interactions (default 1M)")
    parser.add_argument(
        "--subset", type=int, default=10_000, help="changed interactions to re-evaluate (0: skip)"
    )
    parser.add_argument("--repeat", type=int, default=2, help="runs per measurement; the best is shown")
    parser.add_argument(
        "--per-slice",
        type=int,
        default=CHUNK_INTERACTIONS,
        help="interactions per slice of the streaming path",
    )
    parser.add_argument(
        "--in-memory",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run the whole history in memory and re-evaluate changed interactions",
    )
    parser.add_argument("--measure", choices=sorted(MEASURES), help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure is None:
        report(args.rows, args)
        return
    idle = peak_rss_mib()
    figures = MEASURES[args.measure](args.data, args)
    print(json.dumps({**figures, "peak_mib": peak_rss_mib(), "idle_mib": idle}))


if __name__ == "__main__":
    main()
