"""Upgrading a database that holds data keeps every row, including rows that refer to rebuilt tables.

SQLite migrations rebuild a table (copy, drop, rename); with foreign keys enforced, the drop used to delete
every event and SLA result through ON DELETE CASCADE.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from alembic import command

from storage.db import alembic_config, make_engine, upgrade
from storage.repo import insert_events, read_events, read_interactions, upsert_interactions
from tests.builders import BASE, event, events_frame, interaction, interactions_frame

BEFORE_INDEX_CHANGE = ("0001_core", "audits@head", "sla@head")  # before 0004 and 0006 rebuild interactions
INTERACTION_ROW = {
    "interaction_id": "generic:1",
    "source": "generic",
    "external_id": "1",
    "channel": "email",
    "priority": "normal",
    "created_at": "2026-01-05 09:00:00.000000",
    "updated_at": "2026-01-05 12:00:00.000000",
    "reopens": 0,
    "tags": "[]",
    "row_hash": "0" * 32,
    "ingested_at": "2026-01-05 12:00:00.000000",
}


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    """Not migrated: each test chooses the revisions it starts from."""
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


def _count(engine: sa.Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one())


def test_upgrading_a_database_with_events_keeps_them(engine: sa.Engine) -> None:
    cfg = alembic_config(engine)
    for revision in BEFORE_INDEX_CHANGE:
        command.upgrade(cfg, revision)
    interactions = sa.table("interactions", *(sa.column(c) for c in INTERACTION_ROW))
    events = sa.table(
        "interaction_events", *(sa.column(c) for c in ("event_key", "interaction_id", "at", "type"))
    )
    with engine.begin() as conn:
        row = dict(INTERACTION_ROW)
        if conn.dialect.name == "postgresql":
            row = {**row, "created_at": BASE, "updated_at": BASE, "ingested_at": BASE}
        conn.execute(sa.insert(interactions).values(row))
        at = "2026-01-05 09:30:00.000000" if conn.dialect.name == "sqlite" else BASE + timedelta(minutes=30)
        conn.execute(
            sa.insert(events).values(event_key="k1", interaction_id="generic:1", at=at, type="agent_reply")
        )

    upgrade(engine)

    assert _count(engine, "interactions") == 1
    assert _count(engine, "interaction_events") == 1
    # Foreign keys are enforced again afterwards: deleting the interaction removes its event.
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM interactions WHERE interaction_id = 'generic:1'")
    assert _count(engine, "interaction_events") == 0


def test_a_fresh_database_loads_and_reads_after_upgrade(engine: sa.Engine) -> None:
    upgrade(engine)
    with engine.begin() as conn:
        upsert_interactions(conn, interactions_frame([interaction("1")]))
        insert_events(conn, events_frame([event("generic:1", BASE, "agent_reply")]))
    assert read_interactions(engine).height == 1
    assert read_events(engine).height == 1
