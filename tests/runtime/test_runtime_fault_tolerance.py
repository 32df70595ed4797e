"""A connector killed with SIGKILL mid-run, then run again, leaves exactly what one clean run leaves."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from connectors.config import GenericFilesConfig
from connectors.runner import BATCH_ROWS_VARIABLE, run_connector
from storage import runs, tables
from storage.runs import read_runs
from storage.sqlio import utcnow
from storage.sqlite_staging import STAGED_MIN_ROWS_VARIABLE
from tests.runtime.conftest import (
    EVENT_HEADER,
    INTERACTION_HEADER,
    database_state,
    event_row,
    interaction_row,
    write_csv,
)

FILES = 30
ROWS_PER_FILE = 300
ROOT = Path(__file__).resolve().parents[2]


def build_large_folder(folder: Path) -> None:
    """Interactions and events in many files, with bad rows and events whose interaction never comes."""
    folder.mkdir()
    for f in range(FILES):
        ids = range(f * ROWS_PER_FILE, (f + 1) * ROWS_PER_FILE)
        rows = [interaction_row(i, minutes=i % 97) for i in ids]
        rows[7] = interaction_row(ids[7], priority="p9")  # quarantined
        write_csv(folder / f"interactions_{f:03d}.csv", rows, INTERACTION_HEADER)
        events = [event_row(i, source="big") for i in ids]
        events[3] = event_row(10**6 + f, source="big")  # waits for an interaction that never arrives
        events[5] = event_row(ids[5], source="big", type="sms")  # quarantined
        write_csv(folder / f"events_{f:03d}.csv", events, EVENT_HEADER)


def wipe(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        for table in (tables.interaction_events, tables.quarantine, tables.ingested_files, tables.bookmarks):
            conn.execute(table.delete())
        conn.execute(tables.interactions.delete())
        conn.execute(tables.ingest_runs.delete())


def files_committed(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(tables.ingested_files)).scalar() or 0)


@pytest.mark.slow
def test_killed_run_then_rerun_equals_one_clean_run(engine: sa.Engine, db_url: str, tmp_path: Path) -> None:
    kill_mid_run_then_rerun(engine, db_url, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_killed_run_with_every_write_staged_then_rerun_equals_one_clean_run(
    engine: sa.Engine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every SQLite write outside a transaction goes through storage.sqlite_staging's scratch database, in
    # this process and in the killed one (the variable is inherited).
    monkeypatch.setenv(STAGED_MIN_ROWS_VARIABLE, "1")
    kill_mid_run_then_rerun(engine, db_url, tmp_path)


def kill_mid_run_then_rerun(engine: sa.Engine, db_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "exports"
    build_large_folder(folder)
    connector = {"kind": "generic_files", "name": "big", "path": str(folder)}
    config_path = tmp_path / "servicelens.yaml"
    config_path.write_text(yaml.safe_dump({"connectors": [connector]}))

    clean = run_connector(engine, GenericFilesConfig(**connector), now=utcnow())
    assert clean.status == "succeeded", clean.message
    expected = database_state(engine)
    assert len(expected["interactions"]) == FILES * (ROWS_PER_FILE - 1)
    assert {q["record_kind"] for q in expected["quarantine"]} == {"interaction", "event", "deferred_event"}
    wipe(engine)

    env = {
        **os.environ,
        "SERVICELENS_DATABASE_URL": db_url,
        "SERVICELENS_CONFIG": str(config_path),
        # Two files per transaction (instead of the whole folder), so the kill lands between transactions;
        # the first transaction holds one (the first group is smaller, see connectors.runner).
        BATCH_ROWS_VARIABLE: str(2 * ROWS_PER_FILE),
    }
    command = [
        sys.executable,
        "-c",
        "from servicelens.cli import app; app()",
        "ingest",
        "--connector",
        "big",
        "--settle-seconds",
        "0",
    ]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    try:
        while files_committed(engine) < 4:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the connector never committed a file"
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    committed = files_committed(engine)
    assert 4 <= committed < 2 * FILES, "the kill must land mid-run"
    assert committed % 2 == 1, "files of one transaction are remembered together"
    assert read_runs(engine, "big")["status"].to_list() == ["running"]
    assert database_state(engine) != expected

    resumed = run_connector(engine, GenericFilesConfig(**connector), now=utcnow())
    assert resumed.status == "succeeded", resumed.message
    assert f"{committed} unchanged skipped" in resumed.summary()
    assert database_state(engine) == expected
    statuses = read_runs(engine, "big").sort("run_id")
    assert statuses["status"].to_list() == ["failed", "succeeded"]
    assert statuses["message"][0] == runs.INTERRUPTED_MESSAGE
