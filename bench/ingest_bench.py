"""Ingest speed against the database's own bulk load of the same data, measured in the same run.

    python bench/ingest_bench.py --rows 1000000 [--postgres URL] [--formats generic,zendesk] [--repeat N]

For each database (SQLite, and PostgreSQL when a URL is given) and each format (the generic CSV, and the
same interactions as Zendesk incremental-export JSON pages), prints servicelens' rows per second through the
real connector (read -> validate -> upsert -> quarantine -> bookmark) and the ratio to the native bulk load
of the same CSV into an unindexed table: ``sqlite3 .import`` for SQLite, ``COPY`` for PostgreSQL.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import sqlalchemy as sa
from read_bench import synthetic  # bench/ is on sys.path when this script runs

from connectors.config import GenericFilesConfig, ZendeskFilesConfig
from connectors.runner import run_connector
from storage.db import make_engine, upgrade

AnyFileConnector = GenericFilesConfig | ZendeskFilesConfig
# One schema per bench process, so that two runs against one server do not drop each other's tables.
BENCH_SCHEMA = f"servicelens_bench_{os.getpid()}"
PAGE = 1000  # tickets per incremental-export page, as Zendesk returns them
CHANNEL_TO_VIA = {"email": "email", "chat": "chat", "phone": "voice", "social": "twitter", "web": "web"}


def write_generic_csv(frame: pl.DataFrame, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "interactions.csv"
    iso = "%Y-%m-%dT%H:%M:%S%.6fZ"
    out = frame.drop("interaction_id").with_columns(
        [pl.col(c).dt.strftime(iso) for c, t in frame.schema.items() if isinstance(t, pl.Datetime)]
        + [pl.col("tags").list.join("|")]
    )
    out.write_csv(path)
    return path


def write_zendesk_pages(frame: pl.DataFrame, folder: Path) -> None:
    """Incremental ticket export cursor pages, as the API and its exports deliver them."""
    folder.mkdir(parents=True, exist_ok=True)
    iso = "%Y-%m-%dT%H:%M:%SZ"
    tickets = frame.select(
        pl.col("external_id").cast(pl.Int64).alias("id"),
        pl.col("created_at").dt.strftime(iso),
        pl.col("updated_at").dt.strftime(iso),
        pl.col("status").replace({"solved": "solved"}),
        pl.col("priority"),
        pl.col("subject"),
        pl.col("tags"),
        pl.col("channel").replace(CHANNEL_TO_VIA).alias("via_channel"),
    ).to_dicts()
    for start in range(0, len(tickets), PAGE):
        page = tickets[start : start + PAGE]
        for ticket in page:
            ticket["via"] = {"channel": ticket.pop("via_channel")}
        last = start + PAGE >= len(tickets)
        body = {"tickets": page, "after_cursor": f"c{start + PAGE}", "end_of_stream": last}
        (folder / f"tickets-{start // PAGE:05d}.json").write_text(json.dumps(body))


def native_sqlite(csv_path: Path, db: Path) -> float:
    sqlite = shutil.which("sqlite3")
    if sqlite is None:
        raise SystemExit("sqlite3 command-line shell not found (apt-get install sqlite3)")
    started = time.perf_counter()
    subprocess.run([sqlite, str(db), ".mode csv", f".import {csv_path} interactions_native"], check=True)
    return time.perf_counter() - started


def native_postgres(csv_path: Path, engine: sa.Engine) -> float:
    header = csv_path.open().readline().strip().split(",")
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("DROP TABLE IF EXISTS interactions_native")
        cursor.execute(f"CREATE TABLE interactions_native ({', '.join(f'{c} text' for c in header)})")
        started = time.perf_counter()
        copy_sql = "COPY interactions_native FROM STDIN WITH (FORMAT csv, HEADER true)"
        with cursor.copy(copy_sql) as copy, csv_path.open("rb") as handle:  # type: ignore[attr-defined]
            while block := handle.read(1 << 20):
                copy.write(block)
        raw.commit()
        return time.perf_counter() - started
    finally:
        raw.close()


def ours(engine: sa.Engine, connector: GenericFilesConfig | ZendeskFilesConfig) -> tuple[float, int]:
    upgrade(engine)
    started = time.perf_counter()
    # Real time: the settle check compares it with the files' modification times.
    report = run_connector(engine, connector, now=datetime.now(UTC), settle_seconds=0)
    elapsed = time.perf_counter() - started
    if report.status != "succeeded":
        raise SystemExit(f"{connector.name}: {report.summary()}")
    return elapsed, report.counts.inserted


def loop_seconds() -> float:
    """A fixed single-threaded Python loop's time: how fast the machine is right now. Ratios rise when it is
    slow (the servicelens load is CPU-bound, the native one less so), so each run prints it before and after."""
    started = time.perf_counter()
    sum(range(10**8))
    return time.perf_counter() - started


def line(label: str, rows: int, seconds: float, native: float) -> None:
    print(
        f"{label:28s} rows={rows:,} time={seconds:6.1f}s rows/s={rows / seconds:>9,.0f} "
        f"native={native:5.1f}s ratio={seconds / native:5.2f}x",
        flush=True,
    )


def best_sqlite(
    tmp: Path, csv_path: Path, connector: AnyFileConnector, repeat: int
) -> tuple[float, float, int]:
    """Best native and best servicelens time over ``repeat`` fresh databases, alternating the two."""
    natives, times, rows = [], [], 0
    for attempt in range(repeat):
        os.sync()  # the previous load's writes reach the disk before this one is timed
        natives.append(native_sqlite(csv_path, tmp / f"native-{connector.name}-{attempt}.db"))
        os.sync()
        seconds, rows = ours(make_engine(f"sqlite:///{tmp / f'{connector.name}-{attempt}.db'}"), connector)
        times.append(seconds)
    return min(natives), min(times), rows


def checkpoint(admin: sa.Engine) -> None:
    """Flush the previous load's dirty pages first, so that no load pays for the one before it (needs a
    superuser or the pg_checkpoint role; without, the loads run as they come); the earlier SQLite loads'
    files reach the disk too, so their write-back does not slow the server's commits."""
    os.sync()
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql("CHECKPOINT")
    except sa.exc.DBAPIError as exc:
        print(f"note: CHECKPOINT refused ({exc.orig}); loads may pay for the writes of the one before")


def best_postgres(
    url: str, csv_path: Path, connector: AnyFileConnector, repeat: int
) -> tuple[float, float, int]:
    admin = sa.create_engine(url)
    sep = "&" if "?" in url else "?"
    natives, times, rows = [], [], 0
    for _ in range(repeat):
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {BENCH_SCHEMA} CASCADE")
            conn.exec_driver_sql(f"CREATE SCHEMA {BENCH_SCHEMA}")
        engine = make_engine(f"{url}{sep}options=-csearch_path%3D{BENCH_SCHEMA}")
        checkpoint(admin)
        natives.append(native_postgres(csv_path, engine))
        checkpoint(admin)
        seconds, rows = ours(engine, connector)
        times.append(seconds)
        engine.dispose()
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA {BENCH_SCHEMA} CASCADE")
    admin.dispose()
    return min(natives), min(times), rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--postgres", default=None, help="also measure this PostgreSQL URL (a schema is created)"
    )
    parser.add_argument(
        "--formats", default="generic,zendesk", help="comma-separated: generic (CSV), zendesk (JSON pages)"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="fresh loads per measurement, native and ours alternating; the best is shown",
    )
    args = parser.parse_args()
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    with tempfile.TemporaryDirectory() as tmp_text:
        tmp = Path(tmp_text)
        frame = synthetic(args.rows)
        csv_path = write_generic_csv(frame, tmp / "generic")
        connectors: dict[str, AnyFileConnector] = {}
        if "generic" in formats:
            connectors["generic csv"] = GenericFilesConfig(
                kind="generic_files", name="bench-generic", source="bench", path=str(tmp / "generic")
            )
        if "zendesk" in formats:
            write_zendesk_pages(frame, tmp / "zendesk")
            connectors["zendesk json"] = ZendeskFilesConfig(
                kind="zendesk_files", name="bench-zendesk", source="bench", path=str(tmp / "zendesk")
            )
        del frame
        print(f"machine: a fixed Python loop took {loop_seconds():.2f} s before the loads", flush=True)
        for label, connector in connectors.items():
            native, seconds, rows = best_sqlite(tmp, csv_path, connector, args.repeat)
            line(f"sqlite {label}", rows, seconds, native)
        if args.postgres:
            for label, connector in connectors.items():
                native, seconds, rows = best_postgres(args.postgres, csv_path, connector, args.repeat)
                line(f"postgres {label}", rows, seconds, native)
        print(f"machine: the same loop took {loop_seconds():.2f} s after them", flush=True)


if __name__ == "__main__":
    main()
