"""Shared fixtures: a database for each dialect, a fixed clock, paths to the shared real exports."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
SHARED_FIXTURES = ROOT.parent / "shared" / "fixtures"
FIXED_NOW = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)


def _flag(name: str) -> bool:
    return os.environ.get(name, "").lower() in {"1", "true", "yes"}


@pytest.fixture
def now() -> datetime:
    return FIXED_NOW


@pytest.fixture(scope="session")
def shared_fixtures() -> Path:
    """The real third-party exports in ../shared/fixtures; mandatory when SERVICELENS_REQUIRE_FIXTURES=1."""
    if not SHARED_FIXTURES.is_dir():
        if _flag("SERVICELENS_REQUIRE_FIXTURES"):
            pytest.fail(f"{SHARED_FIXTURES} is missing but SERVICELENS_REQUIRE_FIXTURES=1")
        pytest.skip(
            f"real helpdesk exports not found at {SHARED_FIXTURES} (only present beside a CI checkout)"
        )
    return SHARED_FIXTURES


def _postgres_url() -> str | None:
    return os.environ.get("SERVICELENS_TEST_PG_URL") or "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _postgres_reachable(url: str) -> str | None:
    """None when reachable, else the reason."""
    try:
        import sqlalchemy as sa

        engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any failure means: not reachable here
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL: SQLite in a temp folder, or a private schema in PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'servicelens.db'}"
        return
    url = _postgres_url()
    assert url is not None
    reason = _postgres_reachable(url)
    if reason is not None:
        if _flag("SERVICELENS_REQUIRE_POSTGRES"):
            pytest.fail(f"PostgreSQL required but not reachable at {url}: {reason}")
        pytest.skip(f"PostgreSQL not reachable at {url}: {reason}")
    import sqlalchemy as sa

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'create schema "{schema}"'))
    sep = "&" if "?" in url else "?"
    yield f"{url}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(sa.text(f'drop schema "{schema}" cascade'))
    admin.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    """A migrated database of each dialect (folders that need another kind of engine define their own)."""
    from storage.db import make_engine, upgrade

    eng = make_engine(db_url)
    upgrade(eng)
    yield eng
    eng.dispose()
