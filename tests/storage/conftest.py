"""A migrated database of each dialect for the storage tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from storage.db import make_engine, upgrade


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    eng = make_engine(db_url)
    upgrade(eng)
    yield eng
    eng.dispose()
