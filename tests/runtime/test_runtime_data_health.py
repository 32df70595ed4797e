"""Freshness of each connector, and the Data health page driven headlessly through the real router."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa
import yaml
from streamlit.testing.v1 import AppTest

from connectors.config import GenericFilesConfig
from connectors.runner import connector_health, run_connector
from servicelens.config import parse_config
from storage import runs, tables
from storage.db import make_engine, upgrade
from storage.runs import read_bookmarks, read_last_runs
from tests.runtime.conftest import EVENT_HEADER, INTERACTION_HEADER, event_row, interaction_row, write_csv

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboard.py"
NOW = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)


def record_run(
    engine: sa.Engine,
    connector: str,
    status: str,
    finished: datetime,
    message: str | None = None,
    inserted: int = 0,
) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.insert(tables.ingest_runs).values(
                connector=connector,
                started_at=finished - timedelta(minutes=1),
                finished_at=finished,
                status=status,
                message=message,
                inserted=inserted,
                read=inserted,
            )
        )


def test_freshness_uses_twice_the_schedule_or_a_day(engine: sa.Engine) -> None:
    config = parse_config(
        {
            "connectors": [
                {"kind": "generic_files", "name": "quarter", "path": "x", "schedule": {"minutes": 15}},
                {"kind": "generic_files", "name": "nightly", "path": "x", "schedule": {"cron": "0 2 * * *"}},
                {"kind": "generic_files", "name": "manual", "path": "x"},
                {"kind": "generic_files", "name": "never", "path": "x", "schedule": {"seconds": 30}},
                {
                    "kind": "generic_files",
                    "name": "off",
                    "path": "x",
                    "schedule": {"seconds": 30},
                    "enabled": False,
                },
            ]
        },
        environ={},
    )
    record_run(engine, "quarter", "succeeded", NOW - timedelta(minutes=31))  # 2 x 15 min: stale
    record_run(engine, "quarter", "failed", NOW - timedelta(minutes=5), "HTTPError: 503")
    record_run(engine, "nightly", "succeeded", NOW - timedelta(hours=47))  # 2 x 24 h: fresh
    record_run(engine, "manual", "succeeded", NOW - timedelta(hours=23))
    record_run(engine, "ingest:generic", "succeeded", NOW - timedelta(hours=25))  # a CLI import
    with engine.begin() as conn:
        runs.set_bookmark(conn, "quarter", "2026-03-31T11:20:00+00:00", NOW)
    health = connector_health(config.connectors, read_last_runs(engine), read_bookmarks(engine), NOW)
    rows = {r["connector"]: r for r in health.iter_rows(named=True)}
    assert list(rows) == ["quarter", "nightly", "manual", "never", "off", "ingest:generic"]
    assert {name for name, r in rows.items() if r["stale"]} == {"quarter", "never", "ingest:generic"}
    assert rows["quarter"]["fresh_within"] == timedelta(minutes=30)
    assert rows["nightly"]["fresh_within"] == timedelta(hours=48)
    assert rows["manual"]["fresh_within"] == timedelta(hours=24)
    assert rows["quarter"]["last_status"] == "failed"
    assert rows["quarter"]["last_failure_message"] == "HTTPError: 503"
    assert rows["quarter"]["last_success_at"] == NOW - timedelta(minutes=31)
    assert rows["quarter"]["bookmark"] == "2026-03-31T11:20:00+00:00"
    assert (rows["off"]["schedule"], rows["off"]["stale"]) == ("disabled", False)
    assert rows["never"]["last_status"] is None
    assert (
        rows["nightly"]["schedule"] == "cron 0 2 * * * (UTC)"
        and rows["quarter"]["schedule"] == "every 15 min"
    )


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A config with two connectors, one healthy run with quarantined rows and one long-failing connector."""
    url = f"sqlite:///{tmp_path / 'health.db'}"
    folder = tmp_path / "exports"
    folder.mkdir()
    write_csv(
        folder / "interactions.csv",
        [interaction_row(1), interaction_row(2, priority="p9"), interaction_row(3, channel="fax")],
        INTERACTION_HEADER,
    )
    write_csv(
        folder / "events.csv", [event_row(1, source="shops"), event_row(8, source="shops")], EVENT_HEADER
    )
    entries = [
        {"kind": "generic_files", "name": "shops", "path": str(folder), "schedule": {"minutes": 15}},
        {
            "kind": "generic_files",
            "name": "itsm",
            "path": str(tmp_path / "gone"),
            "schedule": {"minutes": 30},
        },
    ]
    config = tmp_path / "servicelens.yaml"
    config.write_text(yaml.safe_dump({"connectors": entries}))
    monkeypatch.setenv("SERVICELENS_DATABASE_URL", url)
    monkeypatch.setenv("SERVICELENS_CONFIG", str(config))
    engine = make_engine(url)
    upgrade(engine)
    now = datetime.now(UTC)
    run_connector(engine, GenericFilesConfig(**entries[0]), now=now - timedelta(minutes=2))
    run_connector(engine, GenericFilesConfig(**entries[1]), now=now - timedelta(hours=3))
    engine.dispose()
    return {"url": url, "folder": folder}


def table(app: AppTest, column: str) -> pl.DataFrame:
    """The page's table that has ``column``."""
    [found] = [pl.from_pandas(frame.value) for frame in app.dataframe if column in frame.value.columns]
    return found


def open_page() -> AppTest:
    app = AppTest.from_file(str(DASHBOARD), default_timeout=60)
    app.run()
    app.switch_page("app_pages/data_health.py").run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def test_page_shows_stale_connectors_runs_and_quarantine(site: dict[str, Any]) -> None:
    app = open_page()
    assert app.title[0].value == "Data health"
    warnings = [w.value for w in app.warning]
    assert len(warnings) == 1 and warnings[0].startswith("**itsm** is stale: no successful run yet")
    assert "no such folder" in warnings[0]
    connectors = table(app, "Freshness")
    assert connectors["Connector"].to_list() == ["itsm", "shops"]  # stale first
    assert connectors["Freshness"].to_list() == ["⚠ stale", "ok"]
    assert connectors.filter(pl.col("Connector") == "shops")["Bookmark"].item() is not None
    assert app.selectbox(key="health_connector").options == ["shops", "itsm"]
    assert len(app.get("plotly_chart")) == 1

    quarantine = table(app, "quarantined_at")
    assert sorted(quarantine["field"].to_list()) == ["channel", "interaction_id", "priority"]
    assert "1 of them are events waiting for their interaction" in " ".join(c.value for c in app.caption)
    reasons = table(app, "records")
    assert reasons["records"].sum() == 3


def test_quarantine_filters_and_download(site: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    downloads: dict[str, bytes] = {}  # file name -> the bytes a browser would receive
    original = MemoryMediaFileStorage.load_and_get_id

    def recording(self: Any, path_or_data: Any, mimetype: str, kind: Any, filename: str | None = None) -> str:
        if filename is not None and isinstance(path_or_data, bytes | str):
            downloads[filename] = path_or_data if isinstance(path_or_data, bytes) else path_or_data.encode()
        return original(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", recording)
    app = open_page()
    events_file = str(site["folder"] / "events.csv")
    app.multiselect(key="health_file").set_value([events_file]).run()
    assert not app.exception
    shown = table(app, "quarantined_at")
    assert shown["file"].to_list() == [events_file] and shown["record_kind"].to_list() == ["deferred_event"]
    button = app.get("download_button")[0]
    assert button.proto.label == "Download the rejected rows (CSV)"

    app.multiselect(key="health_file").set_value([]).run()
    app.multiselect(key="health_source").set_value(["shops"]).run()
    download = pl.read_csv(io.BytesIO(downloads["servicelens_quarantine.csv"]))
    assert download.height == 3 and set(download["source"].to_list()) == {"shops"}
    assert set(download.columns) >= {"file", "row", "field", "reason", "raw"}


def test_empty_database_explains_how_to_get_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICELENS_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    config = tmp_path / "servicelens.yaml"
    config.write_text("connectors: []\n")
    monkeypatch.setenv("SERVICELENS_CONFIG", str(config))
    app = open_page()
    assert "No connector is configured" in app.info[0].value
    assert "The quarantine is empty" in app.success[0].value
