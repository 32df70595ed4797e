"""One demo organisation shared by the demo tests (generation takes about a second)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from servicelens.demo import DemoSummary, generate_demo

DEMO_END = date(2026, 3, 31)
DEMO_SIZE = 30_000


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DemoSummary]:
    out = tmp_path_factory.mktemp("demo")
    return out, generate_demo(out, interactions=DEMO_SIZE, seed=7, end=DEMO_END)


@pytest.fixture(scope="session")
def demo(demo_dir: tuple[Path, DemoSummary]) -> tuple[pl.DataFrame, pl.DataFrame]:
    out, _ = demo_dir
    return pl.read_parquet(out / "interactions.parquet"), pl.read_parquet(out / "events.parquet")
