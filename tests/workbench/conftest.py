"""A small demo organisation for the workbench tests: generated once, loaded into a fresh database per test."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from connectors.generic import read_batches
from connectors.run import run_batches
from servicelens.demo import generate_demo
from storage.db import make_engine, upgrade

DEMO_END = date(2026, 3, 31)
DEMO_SIZE = 3000


@pytest.fixture(scope="session")
def demo_exports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("workbench_demo")
    generate_demo(out, interactions=DEMO_SIZE, seed=7, end=DEMO_END)
    return out


@pytest.fixture
def demo_database(demo_exports: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The demo loaded through the real import path into a temp SQLite database the app and CLI use."""
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    monkeypatch.setenv("SERVICELENS_DATABASE_URL", url)
    monkeypatch.setenv("SERVICELENS_CONFIG", str(Path(__file__).with_name("defaults_config.yaml")))
    engine = make_engine(url)
    upgrade(engine)
    report = run_batches(engine, "demo", read_batches(demo_exports, source="demo"))
    assert report.status == "succeeded" and report.counts.inserted == DEMO_SIZE
    engine.dispose()
    return url
