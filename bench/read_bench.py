"""Reading interactions into polars: servicelens' reader against the driver's bare fetch of the same rows.

    python bench/read_bench.py --rows 1000000 [--postgres URL]

Prints load time (batched upsert), read time, the reference time (a plain DBAPI ``fetchall`` of the same
SELECT, no conversion to polars) and the ratio of the two, for SQLite and optionally PostgreSQL.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import sqlalchemy as sa

from servicelens.model import INTERACTION_SCHEMA
from storage.db import make_engine, upgrade
from storage.repo import INTERACTION_COLUMNS, read_interactions, upsert_interactions


def synthetic(rows: int, seed: int = 1) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    start = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp() * 1_000_000)
    created = start + rng.integers(0, 365 * 86_400_000_000, rows)
    first = created + rng.integers(60_000_000, 86_400_000_000, rows)
    resolved = first + rng.integers(60_000_000, 5 * 86_400_000_000, rows)
    ids = np.arange(rows).astype(str)
    frame = pl.DataFrame(
        {
            "source": ["bench"] * rows,
            "external_id": ids,
            "channel": rng.choice(["email", "chat", "phone", "social", "web"], rows),
            "location": rng.choice([f"Site {i}" for i in range(12)], rows),
            "team": rng.choice([f"Team {i}" for i in range(15)], rows),
            "agent": rng.choice([f"agent{i}" for i in range(150)], rows),
            "customer": rng.integers(0, rows // 3 + 1, rows).astype(str),
            "priority": rng.choice(["urgent", "high", "normal", "low"], rows),
            "status": ["solved"] * rows,
            "subject": ["Question about my order"] * rows,
            "created_at": created,
            "first_response_at": first,
            "resolved_at": resolved,
            "closed_at": [None] * rows,
            "updated_at": resolved,
            "reopens": rng.integers(0, 2, rows),
            "csat": rng.integers(1, 6, rows),
            "nps": rng.integers(0, 11, rows),
            "ces": rng.integers(1, 8, rows),
            "tags": [["bench"]] * rows,
        }
    )
    ts = ["created_at", "first_response_at", "resolved_at", "closed_at", "updated_at"]
    frame = frame.with_columns([pl.col(c).cast(pl.Datetime("us", "UTC")) for c in ts])
    frame = frame.with_columns(
        interaction_id=pl.concat_str([pl.col("source"), pl.lit(":"), pl.col("external_id")])
    )
    return frame.select([pl.col(c).cast(t) for c, t in INTERACTION_SCHEMA.items()])


def measure(label: str, url: str, frame: pl.DataFrame) -> None:
    engine = make_engine(url)
    upgrade(engine)
    started = time.perf_counter()
    with engine.begin() as conn:
        upsert_interactions(conn, frame)
    load = time.perf_counter() - started

    started = time.perf_counter()
    got = read_interactions(engine)
    ours = time.perf_counter() - started
    assert got.height == frame.height

    started = time.perf_counter()
    with engine.connect() as conn:
        raw = conn.exec_driver_sql(f"SELECT {', '.join(INTERACTION_COLUMNS)} FROM interactions").fetchall()
    reference = time.perf_counter() - started
    assert len(raw) == frame.height
    print(
        f"{label:10s} rows={frame.height:,} load={load:.1f}s ({frame.height / load:,.0f} rows/s) "
        f"read_into_polars={ours:.2f}s driver_fetchall={reference:.2f}s ratio={ours / reference:.2f}x"
    )
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--postgres", default=None, help="also measure this PostgreSQL URL (tables are created)"
    )
    args = parser.parse_args()
    frame = synthetic(args.rows)
    with tempfile.TemporaryDirectory() as tmp:
        measure("sqlite", f"sqlite:///{Path(tmp) / 'bench.db'}", frame)
    if args.postgres:
        engine = sa.create_engine(args.postgres)
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA IF EXISTS servicelens_bench CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA servicelens_bench")
        sep = "&" if "?" in args.postgres else "?"
        measure("postgres", f"{args.postgres}{sep}options=-csearch_path%3Dservicelens_bench", frame)
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA servicelens_bench CASCADE")


if __name__ == "__main__":
    main()
