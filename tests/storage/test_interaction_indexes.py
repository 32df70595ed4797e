"""Migration 0004: the interactions table keeps only its primary key, and upserts still key on it."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from alembic import command

from storage import repo
from storage.db import alembic_config, upgrade
from storage.repo import read_interactions, upsert_interactions
from tests.builders import BASE, interaction, interactions_frame

DROPPED_INDEXES = {"ix_interactions_created_at", "ix_interactions_updated_at", "ix_interactions_customer"}


def _index_names(engine: sa.Engine) -> set[str]:
    return {ix["name"] for ix in sa.inspect(engine).get_indexes("interactions") if ix["name"]}


def _unique_names(engine: sa.Engine) -> set[str]:
    return {uq["name"] for uq in sa.inspect(engine).get_unique_constraints("interactions") if uq["name"]}


def test_only_the_primary_key_is_left(engine: sa.Engine) -> None:
    inspector = sa.inspect(engine)
    assert inspector.get_pk_constraint("interactions")["constrained_columns"] == ["interaction_id"]
    assert not _index_names(engine) & DROPPED_INDEXES
    assert "uq_interactions_source_external_id" not in _unique_names(engine)


def test_downgrade_restores_the_indexes_and_upgrade_drops_them_again(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        upsert_interactions(conn, interactions_frame([interaction("1"), interaction("2")]))
    command.downgrade(alembic_config(engine), "0001_core")
    assert _index_names(engine) >= DROPPED_INDEXES
    assert "uq_interactions_source_external_id" in _unique_names(engine)
    upgrade(engine)
    assert not _index_names(engine) & DROPPED_INDEXES
    assert read_interactions(engine).height == 2


def test_upsert_on_the_primary_key_keeps_newer_wins(engine: sa.Engine) -> None:
    old = interaction("7", updated_at=BASE + timedelta(hours=4), subject="old")
    new = interaction("7", updated_at=BASE + timedelta(hours=5), subject="new")
    with engine.begin() as conn:
        first = upsert_interactions(conn, interactions_frame([new]))
        second = upsert_interactions(conn, interactions_frame([old]))
        third = upsert_interactions(conn, interactions_frame([new]))
    assert (first.inserted, second.unchanged, third.unchanged) == (1, 1, 1)
    stored = read_interactions(engine)
    assert stored.height == 1 and stored["subject"].item() == "new"


def test_rows_stored_by_another_writer_after_the_lookup_are_upserted(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with engine.begin() as conn:
        upsert_interactions(conn, interactions_frame([interaction("1", subject="first")]))
    # The lookup sees nothing, as if another writer stored "1" just after it: the fast COPY of new rows
    # must give way to the guarded upsert instead of failing the batch.
    lookup = repo._existing_versions
    monkeypatch.setattr(repo, "_existing_versions", lambda conn, ids: lookup(conn, []))
    newer = interaction("1", updated_at=BASE + timedelta(hours=5), subject="second")
    with engine.begin() as conn:
        upsert_interactions(conn, interactions_frame([newer, interaction("2")]))
    stored = read_interactions(engine).sort("interaction_id")
    assert stored["subject"].to_list() == ["second", "Wrong invoice"]
