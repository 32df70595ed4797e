"""Helpers for the vendor parser tests: the project's own small samples."""

from __future__ import annotations

from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


@pytest.fixture
def samples() -> Path:
    return SAMPLES
