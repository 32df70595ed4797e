"""APScheduler wiring: one job per scheduled connector, stored in the servicelens database.

Jobs are kept by an SQLAlchemy job store on the same database URL, with the connector name as the job id
(``replace_existing=True``, so restarting with a changed config updates the jobs instead of duplicating
them). A job never overlaps itself (``max_instances=1``); runs missed while the scheduler was down are
collapsed into one (``coalesce=True``) when they are at most ``misfire_grace_time`` late. The job function
is the plain importable :func:`run_connector_job`, stored by reference. Cron expressions are read in UTC,
with crontab's day-of-week numbers (0 or 7 = Sunday, 1 = Monday): APScheduler 3 counts 0 = Monday, so
:func:`crontab_trigger` translates them. The dashboard never starts a scheduler.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from apscheduler.job import Job
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger

from connectors.config import AnyConnector, Schedule
from connectors.crontab import crontab_trigger
from servicelens.config import ServicelensConfig, load_config

JOB_FUNCTION = "servicelens.scheduler:run_connector_job"
JOBS_TABLE = "apscheduler_jobs"
DEFAULT_MISFIRE_GRACE_SECONDS = 600

log = logging.getLogger("servicelens.scheduler")


def scheduled_connectors(config: ServicelensConfig) -> list[AnyConnector]:
    """Enabled connectors that declare a schedule, in config order."""
    return [c for c in config.connectors if c.enabled and c.schedule is not None]


def trigger_for(schedule: Schedule, now: datetime) -> BaseTrigger:
    """A cron trigger in UTC, or an interval trigger counting from ``now`` (the first run is at ``now``)."""
    if schedule.cron is not None:
        return crontab_trigger(schedule.cron)
    seconds = schedule.interval_seconds()
    assert seconds is not None  # a Schedule has exactly one of seconds, minutes, cron
    return IntervalTrigger(seconds=seconds, start_date=now, timezone=UTC)


def prune_jobs(engine: sa.Engine, keep: set[str]) -> list[str]:
    """Delete stored jobs of connectors that are no longer scheduled; returns their ids."""
    if not sa.inspect(engine).has_table(JOBS_TABLE):
        return []
    jobs = sa.table(JOBS_TABLE, sa.column("id"))
    with engine.begin() as conn:
        stored = [str(v) for v in conn.execute(sa.select(jobs.c.id)).scalars()]
        gone = sorted(set(stored) - keep)
        if gone:
            conn.execute(jobs.delete().where(jobs.c.id.in_(gone)))
    return gone


def add_connector_jobs(
    scheduler: BaseScheduler,
    config: ServicelensConfig,
    config_path: str | None,
    now: datetime,
    misfire_grace_seconds: int = DEFAULT_MISFIRE_GRACE_SECONDS,
) -> list[Job]:
    """Add (or replace) one job per scheduled connector; the first fire time is computed from ``now``."""
    added = []
    for connector in scheduled_connectors(config):
        assert connector.schedule is not None
        trigger = trigger_for(connector.schedule, now)
        added.append(
            scheduler.add_job(
                JOB_FUNCTION,
                trigger=trigger,
                args=[connector.name, config_path],
                id=connector.name,
                name=f"connector {connector.name}",
                replace_existing=True,
                misfire_grace_time=misfire_grace_seconds,
                coalesce=True,
                max_instances=1,
                next_run_time=trigger.get_next_fire_time(None, now),
            )
        )
    return added


def build_scheduler(
    config: ServicelensConfig,
    config_path: str | None,
    engine: sa.Engine,
    *,
    now: datetime,
    misfire_grace_seconds: int = DEFAULT_MISFIRE_GRACE_SECONDS,
    scheduler_class: type[BaseScheduler] = BlockingScheduler,
) -> BaseScheduler:
    """A scheduler (not started) whose job store lives in ``engine``'s database, holding the configured jobs."""
    names = {c.name for c in scheduled_connectors(config)}
    for gone in prune_jobs(engine, names):
        log.info("removed the job of connector %s: it is no longer scheduled", gone)
    scheduler = scheduler_class(
        jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename=JOBS_TABLE)}, timezone=UTC
    )
    add_connector_jobs(scheduler, config, config_path, now, misfire_grace_seconds)
    return scheduler


def find_connector(config: ServicelensConfig, name: str) -> AnyConnector:
    for connector in config.connectors:
        if connector.name == name:
            return connector
    known = ", ".join(c.name for c in config.connectors) or "none"
    raise KeyError(f"no connector named {name!r} in the config (configured: {known})")


def run_connector_job(connector_name: str, config_path: str | None) -> str:
    """The scheduled job: reload the config, run the connector once, log and return its summary.

    The config is read on every run, so edits to a connector's options apply from its next run.
    """
    from connectors.runner import run_connector
    from storage.db import make_engine

    config = load_config(Path(config_path) if config_path else None)
    connector = find_connector(config, connector_name)
    engine = make_engine(config.database.resolved_url())
    try:
        report = run_connector(engine, connector, now=datetime.now(UTC))
    finally:
        engine.dispose()
    summary = report.summary()
    if report.status == "succeeded":
        log.info(summary)
    else:
        log.error(summary)
    return summary
