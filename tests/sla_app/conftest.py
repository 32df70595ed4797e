"""A small demo organisation loaded through the real import path, with its SLA clocks evaluated."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from connectors.generic import read_batches
from connectors.run import run_batches
from servicelens.config import EXAMPLE_CONFIG_PATH, ServicelensConfig, load_config
from servicelens.demo import generate_demo
from storage.db import make_engine, upgrade

DEMO_END = date(2026, 3, 31)
EVALUATED_AT = datetime(2026, 3, 31, tzinfo=UTC)  # the demo's cutoff: recent clocks are still running


@pytest.fixture(scope="session")
def example_config() -> ServicelensConfig:
    return load_config(EXAMPLE_CONFIG_PATH, environ={})


def demo_folder(tmp_path_factory: pytest.TempPathFactory, size: int, seed: int = 7) -> Path:
    out = tmp_path_factory.mktemp(f"demo{size}")
    generate_demo(out, interactions=size, seed=seed, end=DEMO_END)
    return out


def loaded_engine(url: str, folder: Path) -> sa.Engine:
    engine = make_engine(url)
    upgrade(engine)
    run_batches(engine, "demo", read_batches(folder, source="demo"))
    return engine


@pytest.fixture(scope="session")
def small_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_folder(tmp_path_factory, 400)
