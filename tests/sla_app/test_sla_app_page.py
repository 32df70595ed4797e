"""The SLA page and the Overview's business-time medians, driven headlessly through the real router."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from app_pages import _format
from app_pages.sla import NO_RESULTS_MESSAGE
from servicelens import kpis
from servicelens.commands.sla import evaluate_and_store
from servicelens.config import ServicelensConfig
from sla.compliance import compliance
from storage.repo import read_interactions
from tests.sla_app.conftest import EVALUATED_AT, loaded_engine

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboard.py"
WHOLE_PERIOD = {"from": "2024-01-01", "to": "2026-12-31"}


@pytest.fixture
def database(tmp_path: Path, small_demo: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'page.db'}"
    monkeypatch.setenv("SERVICELENS_DATABASE_URL", url)
    monkeypatch.delenv("SERVICELENS_CONFIG", raising=False)
    loaded_engine(url, small_demo).dispose()
    return url


@pytest.fixture
def evaluated(database: str, example_config: ServicelensConfig) -> tuple[pl.DataFrame, pl.DataFrame]:
    from storage.db import make_engine

    engine = make_engine(database)
    evaluation = evaluate_and_store(engine, example_config, EVALUATED_AT)
    interactions = read_interactions(engine)
    engine.dispose()
    return evaluation.results, interactions


def open_page(page: str = "app_pages/sla.py") -> AppTest:
    app = AppTest.from_file(str(DASHBOARD), default_timeout=90)
    for key, value in WHOLE_PERIOD.items():
        app.query_params[key] = value
    app.run()
    app.switch_page(page).run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def figure(app: AppTest, key: str) -> dict[str, Any]:
    for chart in app.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        if chart.proto.id and key in chart.proto.id:
            return spec
    raise AssertionError(f"no chart {key}")


def test_heatmap_shows_compliance_with_small_n_greyed(
    evaluated: tuple[pl.DataFrame, pl.DataFrame], example_config: ServicelensConfig
) -> None:
    results, interactions = evaluated
    app = open_page()
    spec = figure(app, "sla_heatmap")
    grey, rated = spec["data"]
    assert grey["type"] == rated["type"] == "heatmap"
    want = (
        compliance(results.lazy(), interactions.lazy(), by=["team", "location"], config=example_config.sla)
        .filter((pl.col("metric") == "first_response") & (pl.col("n") > 0))
        .collect()
    )
    cells = {}
    for y, team in enumerate(rated["y"]):
        for x, location in enumerate(rated["x"]):
            cells[(team, location)] = (rated["z"][y][x], grey["z"][y][x], rated["hovertext"][y][x])
    assert any(row["n"] < kpis.SMALL_N for row in want.iter_rows(named=True))
    for row in want.iter_rows(named=True):
        shown, greyed, hover = cells[(row["team"], row["location"])]
        assert f"n = {row['n']:,}" in hover
        if row["n"] < kpis.SMALL_N:
            assert shown is None and greyed == 1
        else:
            assert shown == pytest.approx(100 * row["compliance"]) and greyed is None
    assert figure(app, "sla_trend")["data"][1]["type"] == "scatter"


def test_breach_drill_down_shows_when_each_clock_ran_paused_and_was_due(
    evaluated: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    results, _ = evaluated
    app = open_page()
    breached = results.filter((pl.col("metric") == "first_response") & (pl.col("status") == "breached"))
    pick = app.selectbox(key="sla_breach_pick")
    assert set(pick.options) == set(breached["interaction_id"].to_list())
    chosen = breached.sort("due_at", descending=True)["interaction_id"][0]
    assert pick.options[0] == chosen
    pick.set_value(chosen).run()
    assert not app.exception
    spec = figure(app, "sla_timeline")
    names = {trace["name"] for trace in spec["data"]}
    assert "counting" in names and "due" in names
    assert chosen in spec["layout"]["title"]["text"]
    due = next(trace for trace in spec["data"] if trace["name"] == "due")
    want_due = breached.filter(pl.col("interaction_id") == chosen)["due_at"][0]
    assert any(str(x).startswith(want_due.strftime("%Y-%m-%dT%H:%M")) for x in due["x"])


def test_at_risk_queue_lists_running_clocks_closest_to_breach_first(
    evaluated: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    results, _ = evaluated
    app = open_page()
    tables = [pl.from_pandas(table.value) for table in app.dataframe]
    queue = next(table for table in tables if "minutes_to_breach" in table.columns)
    running = results.filter(pl.col("status").is_in(["running", "at_risk"]) & pl.col("due_at").is_not_null())
    assert queue.height == running.height > 1
    minutes = queue["minutes_to_breach"].to_list()
    assert minutes == sorted(minutes)
    assert set(queue["status"].to_list()) <= {"running", "at_risk"}


def test_what_if_recomputes_compliance_without_writing(
    evaluated: tuple[pl.DataFrame, pl.DataFrame], database: str
) -> None:
    results, _ = evaluated
    app = open_page()
    assert app.selectbox(key="sla_whatif_policy").value == "Live channels"
    app.selectbox(key="sla_whatif_policy").set_value("Standard").run()
    app.selectbox(key="sla_whatif_priority").set_value("normal").run()
    app.number_input(key="sla_whatif_target").set_value(30.0).run()
    assert not app.exception, [e.value for e in app.exception]
    spec = figure(app, "sla_whatif_chart")
    current, changed = spec["data"]
    assert [t["name"] for t in spec["data"]] == ["current", "what if"]
    assert sum(changed["y"]) < sum(current["y"])  # a tighter target meets fewer clocks
    headline = app.metric[0].value
    app.number_input(key="sla_whatif_target").set_value(4000.0).run()
    looser = figure(app, "sla_whatif_chart")["data"][1]
    assert sum(looser["y"]) > sum(changed["y"])
    assert app.metric[0].value != headline
    from storage.db import make_engine
    from storage.sla_repo import read_results

    assert (
        read_results(make_engine(database))
        .sort("interaction_id", "metric", "cycle")
        .drop("evaluated_at", "config_fingerprint")
        .equals(
            results.select(read_results(make_engine(database)).columns[:-2]).sort(
                "interaction_id", "metric", "cycle"
            )
        )
    )


def test_impossible_what_if_hours_are_named(evaluated: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    app = open_page()
    app.text_input(key="sla_whatif_hours").input("9-17").run()
    assert not app.exception
    assert "must look like 09:00-17:00" in app.error[0].value


def test_page_without_results_says_how_to_get_them(database: str) -> None:
    app = open_page()
    assert app.info[0].value == NO_RESULTS_MESSAGE


def test_overview_medians_switch_to_business_time(
    evaluated: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    results, interactions = evaluated
    app = open_page("app_pages/overview.py")
    tiles = {m.label: m.value for m in app.metric}
    for label, metric in (
        ("Median first response", "first_response"),
        ("Median resolution time", "resolution"),
    ):
        want = kpis.median_business_minutes(results, interactions, metric).collect()["value"][0]
        assert tiles[label] == _format.duration(want)
    calendar_time = kpis.median_first_response_minutes(interactions).collect()["value"][0]
    assert tiles["Median first response"] != _format.duration(calendar_time)
    assert "business hours (SLA clocks)" in " ".join(c.value for c in app.caption)
    table = pl.from_pandas(app.dataframe[0].value)
    assert "Median first response (business min)" in table.columns


def test_business_median_counts_completed_clocks_and_adds_reopen_cycles() -> None:
    done = datetime(2026, 3, 2, tzinfo=UTC)
    results = pl.DataFrame(
        {
            "interaction_id": ["a", "a", "b", "c", "d"],
            "metric": ["resolution"] * 5,
            "cycle": [1, 2, 1, 1, 1],
            "elapsed_minutes": [30.0, 20.0, 70.0, 500.0, 10.0],
            "completed_at": [done, done, done, None, done],
        }
    )
    people = pl.DataFrame({"interaction_id": ["a", "b", "c", "d"], "team": ["x", "x", "y", "y"]})
    overall = kpis.median_business_minutes(results, people, "resolution").collect().row(0, named=True)
    assert (overall["value"], overall["n"]) == (50.0, 3)  # a = 30 + 20, b = 70, d = 10; c still running
    by_team = kpis.median_business_minutes(results, people, "resolution", ["team"]).collect()
    assert by_team.select("team", "value", "n").rows() == [("x", 60.0, 2), ("y", 10.0, 1)]
    none = kpis.median_business_minutes(results, people, "first_response").collect().row(0, named=True)
    assert (none["value"], none["n"]) == (None, 0)
