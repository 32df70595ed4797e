"""The Overview page, driven headlessly through the real router on a small SQLite database."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from app_pages import _format
from app_pages._empty import NO_DATA_MESSAGE
from servicelens import kpis
from servicelens.model import EVENT_SCHEMA, INTERACTION_SCHEMA
from storage import tables
from storage.db import make_engine, upgrade
from storage.repo import insert_events, upsert_interactions

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboard.py"
T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)  # a Monday
LAST_INGEST = datetime(2026, 2, 20, 6, 30, tzinfo=UTC)


def sample_data(count: int = 160, seed: int = 3) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Interactions over six weeks at two locations and two teams, with replies and survey answers."""
    rnd = random.Random(seed)
    rows, events = [], []
    for i in range(count):
        created = T0 + timedelta(minutes=rnd.randrange(0, 6 * 7 * 24 * 60))
        first = created + timedelta(minutes=rnd.randrange(1, 600)) if rnd.random() < 0.9 else None
        resolved = created + timedelta(minutes=rnd.randrange(30, 5000)) if rnd.random() < 0.8 else None
        iid = f"demo:{i}"
        rows.append(
            {
                "interaction_id": iid,
                "source": "demo",
                "external_id": str(i),
                "channel": rnd.choice(["email", "chat", "phone"]),
                "location": rnd.choice(["Lyon", "Nantes"]),
                "team": rnd.choice(["front desk", "back office"]),
                "agent": f"agent{rnd.randrange(6)}",
                "customer": f"cust{rnd.randrange(90)}",
                "priority": rnd.choice(["normal", "high"]),
                "status": "solved" if resolved else "open",
                "subject": "question",
                "created_at": created,
                "first_response_at": first,
                "resolved_at": resolved,
                "closed_at": None,
                "updated_at": resolved or created,
                "reopens": rnd.choice([0, 0, 0, 1]),
                "csat": rnd.choice([None, 1, 2, 3, 4, 5, 5]),
                "nps": rnd.choice([None, 0, 5, 7, 8, 9, 10]),
                "ces": rnd.choice([None, 2, 4, 6, 7]),
                "tags": ["billing"],
            }
        )
        if first is not None:
            for reply in range(rnd.choice([1, 1, 2])):
                events.append(
                    {
                        "interaction_id": iid,
                        "at": first + timedelta(minutes=5 * reply),
                        "type": "agent_reply",
                        "status": None,
                        "author": "a",
                        "body": "hello",
                    }
                )
        events.append(
            {
                "interaction_id": iid,
                "at": created,
                "type": "customer_message",
                "status": None,
                "author": "c",
                "body": "help",
            }
        )
    return pl.DataFrame(rows, schema=INTERACTION_SCHEMA), pl.DataFrame(events, schema=EVENT_SCHEMA)


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'overview.db'}"
    monkeypatch.setenv("SERVICELENS_DATABASE_URL", url)
    monkeypatch.delenv("SERVICELENS_CONFIG", raising=False)
    return url


@pytest.fixture
def loaded(database: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    interactions, events = sample_data()
    engine = make_engine(database)
    upgrade(engine)
    with engine.begin() as conn:
        upsert_interactions(conn, interactions)
        insert_events(conn, events)
        conn.execute(
            sa.insert(tables.ingest_runs).values(
                connector="demo",
                started_at=LAST_INGEST - timedelta(minutes=1),
                finished_at=LAST_INGEST,
                status="succeeded",
            )
        )
    engine.dispose()
    return interactions, events


def run_app(query: dict[str, str | list[str]] | None = None) -> AppTest:
    app = AppTest.from_file(str(DASHBOARD), default_timeout=60)
    for key, value in (query or {}).items():
        app.query_params[key] = value
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def shown(app: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in app.metric}


def captions(app: AppTest) -> str:
    return "\n".join(c.value for c in app.caption)


def expected_tiles(view: pl.DataFrame, everyone: pl.DataFrame, events: pl.DataFrame) -> dict[str, str]:
    now = datetime.now(UTC)

    def first(result: pl.LazyFrame) -> float | None:
        return result.collect()["value"][0]

    return {
        "Volume": _format.count(first(kpis.volume(view))),
        "CSAT": _format.percent(first(kpis.csat(view))),
        "NPS": _format.nps_points(first(kpis.nps(view))),
        "CES": _format.effort(first(kpis.ces(view))),
        "FCR": _format.percent(first(kpis.fcr(view, events, now=now, customers_from=everyone))),
        "Median first response": _format.duration(first(kpis.median_first_response_minutes(view))),
        "Median resolution time": _format.duration(first(kpis.median_resolution_minutes(view))),
    }


def test_overview_shows_the_kpis_of_all_data(loaded: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    interactions, events = loaded
    app = run_app()
    assert shown(app) == expected_tiles(interactions, interactions, events)
    rated = kpis.csat(interactions).collect()["n"][0]
    assert f"n = {rated:,} rated" in captions(app)
    assert "Last ingest: 2026-02-20 06:30 UTC" in captions(app)
    assert "95% CI" in captions(app)


def test_location_filter_updates_numbers_and_url(loaded: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    interactions, events = loaded
    app = run_app()
    app.multiselect(key="filter_location").set_value(["Lyon"]).run()
    assert not app.exception
    lyon = interactions.filter(pl.col("location") == "Lyon")
    assert shown(app) == expected_tiles(lyon, interactions, events)
    assert app.query_params["location"] == "Lyon"
    assert shown(app)["Volume"] != _format.count(interactions.height)


def test_filters_are_read_from_the_url(loaded: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    interactions, events = loaded
    app = run_app(
        {"team": "back office", "channel": ["chat", "phone"], "from": "2026-01-12", "to": "2026-01-31"}
    )
    view = interactions.filter(
        (pl.col("team") == "back office")
        & pl.col("channel").is_in(["chat", "phone"])
        & (pl.col("created_at") >= datetime(2026, 1, 12, tzinfo=UTC))
        & (pl.col("created_at") < datetime(2026, 2, 1, tzinfo=UTC))
    )
    assert 0 < view.height < interactions.height
    assert shown(app) == expected_tiles(view, interactions, events)
    assert app.multiselect(key="filter_channel").value == ["chat", "phone"]
    rated = kpis.csat(view).collect()["n"][0]
    assert 0 < rated < kpis.SMALL_N
    assert f"n = {rated} rated · :warning: small sample (under 30)" in captions(app)


def test_breakdown_table_matches_grouped_kpis(loaded: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    interactions, _ = loaded
    app = run_app()
    table = pl.from_pandas(app.dataframe[0].value)
    want = kpis.csat(interactions, ["location", "team"]).collect()
    assert table.height == want.height == 4
    got = table.select("location", "team", "CSAT %", "CSAT % n", "CSAT % 95% CI").sort("location", "team")
    for shown_row, want_row in zip(got.iter_rows(named=True), want.iter_rows(named=True), strict=True):
        assert (shown_row["location"], shown_row["team"]) == (want_row["location"], want_row["team"])
        assert shown_row["CSAT % n"] == want_row["n"]
        assert shown_row["CSAT %"] == pytest.approx(100 * want_row["value"])
        low, high = (int(x) for x in shown_row["CSAT % 95% CI"].split("–"))
        assert (low, high) == (round(100 * want_row["ci_low"]), round(100 * want_row["ci_high"]))


def test_bad_link_parameters_are_named_and_ignored(loaded: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    interactions, events = loaded
    app = run_app({"from": "31/01/2026", "location": "Paris"})
    warnings = " ".join(w.value for w in app.sidebar.warning)
    assert "`from=31/01/2026` is not a date" in warnings
    assert "`location` has no data for Paris" in warnings
    assert shown(app) == expected_tiles(interactions, interactions, events)


def test_view_with_no_matching_interactions_says_so(loaded: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    app = run_app({"from": "2025-01-01", "to": "2025-01-31"})
    assert not app.metric
    assert "No interactions match these filters" in app.info[0].value


def test_empty_database_explains_how_to_get_data(database: str) -> None:
    app = run_app()
    assert app.info[0].value == NO_DATA_MESSAGE
    assert "`servicelens demo`" in NO_DATA_MESSAGE
    assert "`servicelens ingest PATH`" in NO_DATA_MESSAGE
    assert not app.metric
    assert "Last ingest: never" in captions(app)


def test_period_widget_is_a_range_seeded_from_the_url(loaded: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    app = run_app({"from": "2026-01-12", "to": "2026-01-31"})
    assert app.date_input(key="filter_period").value == (date(2026, 1, 12), date(2026, 1, 31))
    app.date_input(key="filter_period").set_value((date(2026, 1, 5), date(2026, 1, 11))).run()
    assert (app.query_params["from"], app.query_params["to"]) == ("2026-01-05", "2026-01-11")


def test_unusable_configuration_is_reported_by_field(database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICELENS__METRICS__FCR_WINDOW_DAYS", "-3")
    app = AppTest.from_file(str(DASHBOARD), default_timeout=60)
    app.run()
    assert not app.exception
    assert "metrics.fcr_window_days" in app.error[0].value
    assert not app.metric
