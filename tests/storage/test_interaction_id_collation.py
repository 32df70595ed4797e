"""Migration 0007: interaction ids compare byte by byte on PostgreSQL, in every table that holds one."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command

from storage.db import alembic_config, upgrade
from storage.repo import read_interactions, upsert_interactions
from tests.builders import interaction, interactions_frame

TABLES = {
    "interactions",
    "interaction_events",
    "sla_results",
    "audit_batch_items",
    "audit_check_results",
    "audit_reassignments",
    "audit_reviews",
    "calibration_interactions",
    "calibration_scores",
}


def _collations(engine: sa.Engine) -> dict[str, str | None]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT table_name, collation_name FROM information_schema.columns "
                "WHERE column_name = 'interaction_id' AND table_schema = current_schema()"
            )
        ).all()
    return {table: collation for table, collation in rows}


def test_ids_sort_bytewise_and_the_migration_keeps_rows_both_ways(engine: sa.Engine) -> None:
    ids = ["a", "B", "b", "é", "Z", "_", "10", "9"]
    with engine.begin() as conn:
        upsert_interactions(conn, interactions_frame([interaction(i) for i in ids]))
    with engine.connect() as conn:
        ordered = conn.execute(sa.text("SELECT interaction_id FROM interactions ORDER BY interaction_id"))
        stored = [row[0] for row in ordered]
    assert stored == sorted(stored, key=lambda text: text.encode())  # the order polars sorts ids in
    if engine.dialect.name != "postgresql":
        return
    assert _collations(engine) == dict.fromkeys(TABLES, "C")
    command.downgrade(alembic_config(engine), "0006_interactions_without_rowid")
    assert set(_collations(engine)) == TABLES and "C" not in _collations(engine).values()
    assert read_interactions(engine).height == len(ids)
    upgrade(engine)
    assert _collations(engine) == dict.fromkeys(TABLES, "C")
    assert sorted(read_interactions(engine)["external_id"].to_list()) == sorted(ids)
