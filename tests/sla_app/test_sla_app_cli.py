"""`servicelens sla evaluate` and `servicelens sla compliance` on a small demo organisation."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from servicelens.commands.sla import app, evaluate_and_store
from servicelens.config import ServicelensConfig
from sla.compliance import compliance
from sla.evaluate import RESULT_COLUMNS, RESULT_SCHEMA, evaluate
from storage.repo import read_events, read_interactions
from storage.sla_repo import read_results
from tests.sla_app.conftest import EVALUATED_AT, loaded_engine

EXACT_COLUMNS = [
    "interaction_id",
    "metric",
    "cycle",
    "policy",
    "target_minutes",
    "elapsed_minutes",
    "status",
    "due_at",
    "completed_at",
]
KEY = ["interaction_id", "metric", "cycle"]


@pytest.fixture
def database(tmp_path: Path, small_demo: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("SERVICELENS_DATABASE_URL", url)
    monkeypatch.delenv("SERVICELENS_CONFIG", raising=False)
    loaded_engine(url, small_demo).dispose()
    return url


def invoke(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def expected_rows(url: str, config: ServicelensConfig, now: datetime) -> pl.DataFrame:
    from storage.db import make_engine

    engine = make_engine(url)
    rows = evaluate(read_interactions(engine).lazy(), read_events(engine).lazy(), config.sla, now).collect()
    engine.dispose()
    return rows.sort(KEY)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_evaluate_as_of_writes_exactly_the_result_columns(
    database: str, tmp_path: Path, suffix: str, example_config: ServicelensConfig
) -> None:
    out = tmp_path / f"sla{suffix}"
    output = invoke("evaluate", "--as-of", "2026-03-20T09:30:00Z", "--out", str(out))
    assert f"row(s) written to {out}" in output
    assert RESULT_COLUMNS == EXACT_COLUMNS
    written = pl.read_csv(out, schema=RESULT_SCHEMA) if suffix == ".csv" else pl.read_parquet(out)
    assert written.columns == EXACT_COLUMNS
    want = expected_rows(database, example_config, datetime(2026, 3, 20, 9, 30, tzinfo=UTC))
    assert written.sort(KEY).equals(want)
    assert "results stored" in output
    from storage.db import make_engine

    stored = read_results(make_engine(database))
    assert stored.height == want.height
    assert stored["evaluated_at"].unique().to_list() == [datetime(2026, 3, 20, 9, 30, tzinfo=UTC)]


def test_an_offset_free_as_of_is_utc_and_no_store_leaves_the_database_alone(
    database: str, tmp_path: Path
) -> None:
    out = tmp_path / "sla.csv"
    output = invoke("evaluate", "--as-of", "2026-03-20T09:30", "--no-store", "--out", str(out))
    assert "as of 2026-03-20T09:30:00+00:00" in output
    from storage.db import make_engine

    assert read_results(make_engine(database)).is_empty()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["evaluate", "--as-of", "yesterday"], "'yesterday' is not an ISO timestamp"),
        (["evaluate", "--out", "x.xlsx"], "must end in .csv or .parquet"),
        (["compliance", "--by", "team,shoe_size"], "cannot group by shoe_size"),
    ],
)
def test_bad_options_are_named(database: str, args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert message in result.output


def test_compliance_without_results_says_how_to_get_them(database: str) -> None:
    result = CliRunner().invoke(app, ["compliance"])
    assert result.exit_code == 1
    assert "run `servicelens sla evaluate` first" in result.output


def test_compliance_prints_each_group_with_its_n(
    database: str, tmp_path: Path, example_config: ServicelensConfig
) -> None:
    from storage.db import make_engine

    engine = make_engine(database)
    evaluation = evaluate_and_store(engine, example_config, EVALUATED_AT)
    output = invoke("compliance", "--by", "team,location", "--metric", "first_response")
    assert "| metric" in output and "| n " in output and "compliance %" in output
    want = (
        compliance(
            evaluation.results.lazy(),
            read_interactions(engine).lazy(),
            by=["team", "location"],
            config=example_config.sla,
        )
        .filter(pl.col("metric") == "first_response")
        .collect()
    )
    lines = [line for line in output.splitlines() if line.startswith("| first_response")]
    assert len(lines) == want.height
    for row in want.head(5).iter_rows(named=True):
        cells = f"| first_response | {row['team']}"
        match = [line for line in lines if line.startswith(cells) and f"| {row['location']}" in line]
        assert len(match) == 1
        assert f"| {row['n']}" in match[0]
    out = tmp_path / "compliance.csv"
    invoke("compliance", "--by", "week", "--out", str(out))
    table = pl.read_csv(out)
    assert table.columns[:2] == ["metric", "week"]
    assert table["n"].sum() == int(evaluation.results["status"].is_in(["met", "breached"]).sum())
    engine.dispose()
