"""``servicelens ingest``: load generic-format files now, or run one configured connector now."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from servicelens.commands.common import ConfigOption, config_or_exit, ready_engine
from servicelens.config import ServicelensConfig


def ingest(
    path: Annotated[Path | None, typer.Argument(help="A generic-format file or folder to load.")] = None,
    source: Annotated[str, typer.Option(help="Source name for rows without a `source` column.")] = "generic",
    connector: Annotated[
        str | None,
        typer.Option("--connector", help="Run this configured connector now instead of loading PATH."),
    ] = None,
    settle_seconds: Annotated[
        float,
        typer.Option(
            help="With --connector: files modified this recently with an unfinished last line wait."
        ),
    ] = 10.0,
    config: ConfigOption = None,
) -> None:
    """Load files in the generic import format (interactions.* and events.*, as csv, ndjson or parquet).

    Prints read / inserted / updated / unchanged / quarantined counts. Running it again over the same files
    changes nothing. Invalid rows go to the quarantine with file, row, field and reason; valid rows still load.
    With --connector NAME, runs that configured connector once (new files or new API records since its
    bookmark) and exits with 1 when the run failed.
    """
    cfg = config_or_exit(config)
    if connector is not None:
        if path is not None:
            typer.echo("give either a PATH or --connector, not both", err=True)
            raise typer.Exit(2)
        _run_configured(cfg, connector, settle_seconds)
        return
    if path is None:
        typer.echo("give a PATH to load, or --connector NAME to run a configured connector", err=True)
        raise typer.Exit(2)
    from connectors.files import UnreadableFileError
    from connectors.generic import read_batches
    from connectors.run import run_batches

    try:
        batches = read_batches(path, source)
    except UnreadableFileError as exc:
        typer.echo(f"error: {exc}\nnothing was loaded.", err=True)
        raise typer.Exit(1) from None
    engine = ready_engine(cfg)
    report = run_batches(engine, f"ingest:{source}", batches)
    typer.echo(report.summary())
    if report.counts.quarantined:
        typer.echo("see the quarantine: servicelens quarantine")


def _run_configured(cfg: ServicelensConfig, name: str, settle_seconds: float) -> None:
    from connectors.runner import run_connector
    from servicelens.scheduler import find_connector
    from storage.sqlio import utcnow

    try:
        chosen = find_connector(cfg, name)
    except KeyError as exc:
        typer.echo(f"error: {exc.args[0]}", err=True)
        raise typer.Exit(2) from None
    report = run_connector(ready_engine(cfg), chosen, now=utcnow(), settle_seconds=settle_seconds)
    typer.echo(report.summary())
    if report.counts.quarantined:
        typer.echo(f"see the quarantine: servicelens quarantine --source {chosen.source_name}")
    if report.status != "succeeded":
        raise typer.Exit(1)
