"""Stored SLA results on SQLite and PostgreSQL: full and partial replacement, fast reads, clear errors."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest

from servicelens.commands.sla import evaluate_and_store
from servicelens.config import ServicelensConfig
from sla.evaluate import evaluate_detailed
from storage.repo import read_events, read_interactions
from storage.sla_repo import (
    CLOCK_EVENT_COLUMNS,
    STORED_COLUMNS,
    SlaStoreError,
    config_fingerprint,
    evaluation_info,
    read_clock_events,
    read_results,
    replace_results,
)
from tests.sla_app.conftest import EVALUATED_AT, loaded_engine

KEY = ["interaction_id", "metric", "cycle"]


def test_full_evaluation_is_stored_and_read_back_exactly(
    db_url: str, small_demo: Path, example_config: ServicelensConfig
) -> None:
    engine = loaded_engine(db_url, small_demo)
    evaluation = evaluate_and_store(engine, example_config, EVALUATED_AT)
    stored = read_results(engine)
    assert stored.columns == STORED_COLUMNS
    assert evaluation.stored == stored.height == evaluation.results.height > 400
    expected = evaluation.results.select(STORED_COLUMNS[:-2]).sort(KEY)
    assert stored.select(STORED_COLUMNS[:-2]).sort(KEY).equals(expected)
    assert stored["evaluated_at"].unique().to_list() == [EVALUATED_AT]
    info = evaluation_info(engine)
    assert info.rows == stored.height
    assert info.last_evaluated_at == EVALUATED_AT
    assert info.fingerprints == (config_fingerprint(example_config.sla),)
    # A second full evaluation replaces every row: nothing piles up.
    evaluate_and_store(engine, example_config, EVALUATED_AT + timedelta(days=1))
    assert read_results(engine).height == read_results(engine).unique(KEY).height
    assert evaluation_info(engine).first_evaluated_at == EVALUATED_AT + timedelta(days=1)
    engine.dispose()


def test_subset_replacement_touches_only_those_interactions(
    db_url: str, small_demo: Path, example_config: ServicelensConfig
) -> None:
    engine = loaded_engine(db_url, small_demo)
    evaluate_and_store(engine, example_config, EVALUATED_AT - timedelta(days=30))
    before = read_results(engine)
    changed = before["interaction_id"].unique().sort().head(7).to_list()
    later = EVALUATED_AT
    evaluation = evaluate_and_store(engine, example_config, later, interaction_ids=changed)
    after = read_results(engine)
    mine = pl.col("interaction_id").is_in(changed)
    assert after.filter(~mine).sort(KEY).equals(before.filter(~mine).sort(KEY))
    assert after.filter(mine)["evaluated_at"].unique().to_list() == [later]
    interactions = read_interactions(engine)
    events = read_events(engine)
    want = (
        evaluate_detailed(interactions.lazy(), events.lazy(), example_config.sla, later)
        .filter(mine)
        .collect()
    )
    assert evaluation.results.height == want.height == after.filter(mine).height
    assert read_results(engine, changed).sort(KEY).equals(after.filter(mine).sort(KEY))
    engine.dispose()


def test_rows_outside_the_subset_are_refused_and_nothing_changes(
    db_url: str, small_demo: Path, example_config: ServicelensConfig
) -> None:
    engine = loaded_engine(db_url, small_demo)
    evaluation = evaluate_and_store(engine, example_config, EVALUATED_AT)
    one = evaluation.results["interaction_id"][0]
    with pytest.raises(SlaStoreError, match="outside the replaced subset"), engine.begin() as conn:
        replace_results(
            conn,
            evaluation.results,
            evaluated_at=EVALUATED_AT,
            fingerprint="x",
            interaction_ids=[one],
        )
    assert read_results(engine).height == evaluation.results.height
    with pytest.raises(SlaStoreError, match="lack column"), engine.begin() as conn:
        replace_results(conn, evaluation.results.drop("calendar"), evaluated_at=EVALUATED_AT, fingerprint="x")
    engine.dispose()


def test_clock_events_are_the_event_history_without_text(db_url: str, small_demo: Path) -> None:
    engine = loaded_engine(db_url, small_demo)
    slim = read_clock_events(engine)
    full = read_events(engine)
    assert slim.columns == CLOCK_EVENT_COLUMNS
    order = ["interaction_id", "at", "type", "status"]
    assert slim.sort(order, nulls_last=True).equals(full.select(order).sort(order, nulls_last=True))
    engine.dispose()


def test_the_fingerprint_follows_the_policies(example_config: ServicelensConfig) -> None:
    sla = example_config.sla
    changed = sla.model_copy(update={"horizon_days": sla.horizon_days + 1})
    assert config_fingerprint(sla) == config_fingerprint(sla.model_copy())
    assert config_fingerprint(changed) != config_fingerprint(sla)
