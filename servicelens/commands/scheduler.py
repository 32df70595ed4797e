"""``servicelens scheduler``: run every scheduled connector on its schedule, in one long-running process."""

from __future__ import annotations

import logging
import signal
import sys
from datetime import UTC, datetime
from typing import Annotated

import typer

from servicelens.commands.ingest import ConfigOption, config_or_exit, ready_engine


def scheduler(
    list_only: Annotated[
        bool, typer.Option("--list", help="Print the jobs and their next run times, then exit.")
    ] = False,
    misfire_grace_seconds: Annotated[
        int,
        typer.Option(
            "--misfire-grace", min=1, help="A run missed by at most this many seconds still happens (once)."
        ),
    ] = 600,
    config: ConfigOption = None,
) -> None:
    """Run the connectors that have a `schedule` (seconds, minutes or cron in UTC) until stopped (Ctrl+C).

    Jobs are stored in the servicelens database under the connector names; restarting replaces them.
    Interval connectors run once at start, then every interval. Each run is recorded like a manual one.
    """
    from servicelens.scheduler import build_scheduler, scheduled_connectors

    cfg = config_or_exit(config)
    connectors = scheduled_connectors(cfg)
    if not connectors:
        typer.echo("no connector has a schedule: add `schedule: {minutes: 15}` to a connector in the config")
        raise typer.Exit(1)
    now = datetime.now(UTC)
    config_path = str(config.resolve()) if config is not None else None
    engine = ready_engine(cfg)
    scheduler = build_scheduler(
        cfg, config_path, engine, now=now, misfire_grace_seconds=misfire_grace_seconds
    )
    for job in scheduler.get_jobs():
        typer.echo(f"{job.id}: {job.trigger} — next run {job.next_run_time:%Y-%m-%d %H:%M:%S %Z}")
    if list_only:
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    typer.echo(f"scheduler running {len(connectors)} connector(s); stop with Ctrl+C")
    # SIGTERM (service managers, docker stop) stops like Ctrl+C; a run in progress finishes first.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        if scheduler.running:
            scheduler.shutdown(wait=True)
        typer.echo("scheduler stopped")
