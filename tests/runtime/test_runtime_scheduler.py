"""Scheduler wiring on a paused scheduler, the job body as a plain function, and the CLI commands."""

from __future__ import annotations

import ast
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from typer.testing import CliRunner

from servicelens.cli import app
from servicelens.config import parse_config
from servicelens.scheduler import (
    JOB_FUNCTION,
    JOBS_TABLE,
    build_scheduler,
    crontab_trigger,
    run_connector_job,
)
from storage.repo import read_interactions
from storage.runs import read_runs
from tests.runtime.conftest import INTERACTION_HEADER, interaction_row, write_csv

# A Tuesday, later than any real clock running these tests: no job comes due while a test scheduler runs.
NOW = datetime(2031, 4, 1, 12, 10, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


def connectors(folder: Path) -> list[dict[str, Any]]:
    return [
        {"kind": "generic_files", "name": "stores", "path": str(folder), "schedule": {"minutes": 15}},
        {
            "kind": "generic_files",
            "name": "branches",
            "path": str(folder),
            "schedule": {"cron": "*/30 9-17 * * 1-5"},
        },
        {"kind": "generic_files", "name": "fast", "path": str(folder), "schedule": {"seconds": 45}},
        {"kind": "generic_files", "name": "manual", "path": str(folder)},
        {
            "kind": "generic_files",
            "name": "off",
            "path": str(folder),
            "schedule": {"minutes": 5},
            "enabled": False,
        },
    ]


def paused(engine: sa.Engine, config: Any) -> BackgroundScheduler:
    scheduler = build_scheduler(
        config,
        "/etc/servicelens.yaml",
        engine,
        now=NOW,
        misfire_grace_seconds=300,
        scheduler_class=BackgroundScheduler,
    )
    assert isinstance(scheduler, BackgroundScheduler)
    scheduler.start(paused=True)
    return scheduler


def test_paused_scheduler_holds_one_job_per_scheduled_connector(engine: sa.Engine, tmp_path: Path) -> None:
    config = parse_config({"connectors": connectors(tmp_path)}, environ={})
    scheduler = paused(engine, config)
    try:
        jobs = {job.id: job for job in scheduler.get_jobs()}
        assert sorted(jobs) == ["branches", "fast", "stores"]
        stores, branches, fast = jobs["stores"], jobs["branches"], jobs["fast"]
        assert isinstance(stores.trigger, IntervalTrigger) and stores.trigger.interval == timedelta(
            minutes=15
        )
        assert isinstance(fast.trigger, IntervalTrigger) and fast.trigger.interval == timedelta(seconds=45)
        assert isinstance(branches.trigger, CronTrigger) and str(branches.trigger.timezone) == "UTC"
        assert stores.next_run_time == NOW  # interval connectors run once at start
        assert branches.next_run_time == datetime(2031, 4, 1, 12, 30, tzinfo=UTC)
        for job in jobs.values():
            assert job.func_ref == JOB_FUNCTION
            assert job.args == (job.id, "/etc/servicelens.yaml")
            assert (job.misfire_grace_time, job.coalesce, job.max_instances) == (300, True, 1)
        after_hours = branches.trigger.get_next_fire_time(None, datetime(2031, 4, 4, 17, 45, tzinfo=UTC))
        assert after_hours == datetime(2031, 4, 7, 9, 0, tzinfo=UTC)  # Friday evening -> Monday 09:00
    finally:
        scheduler.shutdown(wait=False)


def test_jobs_persist_in_the_database_and_restarts_replace_them(engine: sa.Engine, tmp_path: Path) -> None:
    config = parse_config({"connectors": connectors(tmp_path)}, environ={})
    paused(engine, config).shutdown(wait=False)
    paused(engine, config).shutdown(wait=False)  # a restart: same ids, replaced, never duplicated
    with engine.connect() as conn:
        ids = conn.execute(sa.text(f"select id from {JOBS_TABLE} order by id")).scalars().all()
    assert ids == ["branches", "fast", "stores"]

    fewer = parse_config({"connectors": connectors(tmp_path)[:1]}, environ={})
    scheduler = paused(engine, fewer)
    scheduler.shutdown(wait=False)
    store = SQLAlchemyJobStore(engine=engine, tablename=JOBS_TABLE)
    reader = BackgroundScheduler(jobstores={"default": store}, timezone=UTC)
    reader.start(paused=True)
    try:
        stored = reader.get_jobs()
        assert [job.id for job in stored] == ["stores"]  # unscheduled connectors lose their job
        assert stored[0].func_ref == JOB_FUNCTION and stored[0].next_run_time == NOW
    finally:
        reader.shutdown(wait=False)


@pytest.mark.parametrize(
    ("day_of_week", "weekdays"),
    [
        ("*", {0, 1, 2, 3, 4, 5, 6}),
        ("0", {6}),  # crontab: Sunday
        ("7", {6}),
        ("1", {0}),  # crontab: Monday
        ("1-5", {0, 1, 2, 3, 4}),
        ("0,6", {5, 6}),
        ("*/2", {6, 1, 3, 5}),  # Sunday, Tuesday, Thursday, Saturday
        ("5-7", {4, 5, 6}),
        ("mon-fri", {0, 1, 2, 3, 4}),
        ("sat,sun", {5, 6}),
    ],
)
def test_cron_weekdays_follow_crontab_numbering(day_of_week: str, weekdays: set[int]) -> None:
    """Python weekday numbers (0 = Monday) of every fire time of `0 9 * * DAY` over two weeks."""
    trigger = crontab_trigger(f"0 9 * * {day_of_week}")
    fired: set[int] = set()
    moment = datetime(2026, 3, 29, 0, 0, tzinfo=UTC)  # a Sunday
    while (moment := trigger.get_next_fire_time(None, moment)) < datetime(2026, 4, 12, tzinfo=UTC):
        assert (moment.hour, moment.minute) == (9, 0)
        fired.add(moment.weekday())
        moment += timedelta(minutes=1)
    assert fired == weekdays


def test_bad_cron_day_of_week_is_refused() -> None:
    with pytest.raises(ValueError, match="not within 0-7"):
        crontab_trigger("0 9 * * 3-9")
    with pytest.raises(ValueError, match="5 fields"):
        crontab_trigger("0 9 * *")


def _config_file(
    tmp_path: Path, db_url: str, entries: list[dict[str, Any]], name: str = "servicelens.yaml"
) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump({"database": {"url": db_url}, "connectors": entries}))
    return path


def test_job_body_runs_the_connector_and_records_the_run(
    engine: sa.Engine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SERVICELENS_DATABASE_URL", raising=False)
    folder = tmp_path / "exports"
    folder.mkdir()
    write_csv(folder / "interactions.csv", [interaction_row(i) for i in range(5)], INTERACTION_HEADER)
    config = _config_file(tmp_path, db_url, connectors(folder))
    summary = run_connector_job("stores", str(config))
    assert "stores: read 5, inserted 5" in summary
    assert read_interactions(engine).height == 5
    assert read_runs(engine, "stores")["status"].to_list() == ["succeeded"]
    assert "nothing changed" in run_connector_job("stores", str(config))
    with pytest.raises(KeyError, match="no connector named 'gone'"):
        run_connector_job("gone", str(config))


def test_cli_ingest_connector_and_scheduler_list(
    engine: sa.Engine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SERVICELENS_DATABASE_URL", raising=False)
    folder = tmp_path / "exports"
    folder.mkdir()
    write_csv(
        folder / "interactions.csv",
        [interaction_row(1), interaction_row(2, priority="p9")],
        INTERACTION_HEADER,
    )
    config = str(_config_file(tmp_path, db_url, connectors(folder)))
    runner = CliRunner()
    ran = runner.invoke(app, ["ingest", "--connector", "manual", "-c", config])
    assert ran.exit_code == 0, ran.output
    assert "manual: read 2, inserted 1" in ran.output and "quarantine --source manual" in ran.output
    unknown = runner.invoke(app, ["ingest", "--connector", "nope", "-c", config])
    assert unknown.exit_code == 2 and "no connector named 'nope'" in unknown.output
    both = runner.invoke(app, ["ingest", str(folder), "--connector", "manual", "-c", config])
    assert both.exit_code == 2

    broken = str(
        _config_file(
            tmp_path,
            db_url,
            [{"kind": "generic_files", "name": "lost", "path": str(tmp_path / "x")}],
            "broken.yaml",
        )
    )
    failed = runner.invoke(app, ["ingest", "--connector", "lost", "-c", broken])
    assert failed.exit_code == 1 and "FAILED" in failed.output

    listing = runner.invoke(app, ["scheduler", "--list", "-c", config])
    assert listing.exit_code == 0, listing.output
    lines = sorted(line.split(":")[0] for line in listing.output.splitlines() if "next run" in line)
    assert lines == ["branches", "fast", "stores"]
    assert "day_of_week='mon,tue,wed,thu,fri', hour='9-17', minute='*/30'" in listing.output
    nothing = runner.invoke(app, ["scheduler", "--list", "-c", broken])
    assert nothing.exit_code == 1 and "no connector has a schedule" in nothing.output


def test_the_dashboard_never_starts_a_scheduler() -> None:
    """No dashboard module imports the scheduler wiring or APScheduler."""
    modules = [ROOT / "dashboard.py", *sorted((ROOT / "app_pages").glob("*.py"))]
    for path in modules:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for name in names:
                assert not name.startswith(("apscheduler", "servicelens.scheduler")), (
                    f"{path.name} imports {name}"
                )
    assert json.dumps  # keeps the json import honest for readers of failures above
