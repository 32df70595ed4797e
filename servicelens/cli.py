"""The ``servicelens`` command line. Each command is a thin edge over the library functions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from servicelens.commands.ingest import ingest
from servicelens.commands.scheduler import scheduler
from servicelens.config import ConfigError, ServicelensConfig, load_config

app = typer.Typer(
    help="servicelens: service-quality audits and SLA monitoring across locations and teams.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema management.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.command()(ingest)
app.command("scheduler")(scheduler)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Config file (default: $SERVICELENS_CONFIG, ./servicelens.yaml, else the shipped example).",
    ),
]


def _config(path: Path | None) -> ServicelensConfig:
    try:
        return load_config(path)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


def _engine(config: ServicelensConfig):  # type: ignore[no-untyped-def]
    from storage.db import make_engine, upgrade

    engine = make_engine(config.database.resolved_url())
    upgrade(engine)
    return engine


@app.command("check-config")
def check_config(config: ConfigOption = None) -> None:
    """Validate the config file; print every error with its path and exit non-zero if there are any."""
    cfg = _config(config)
    typer.echo(f"config OK: {len(cfg.connectors)} connector(s)")


@db_app.command("upgrade")
def db_upgrade(config: ConfigOption = None) -> None:
    """Create the database or migrate it to the latest schema (safe to run repeatedly)."""
    cfg = _config(config)
    _engine(cfg)
    typer.echo(f"database ready: {_redacted(cfg.database.resolved_url())}")


def _redacted(url: str) -> str:
    from sqlalchemy import make_url

    return make_url(url).render_as_string(hide_password=True)


@app.command("quarantine")
def quarantine_list(
    source: Annotated[str | None, typer.Option(help="Only this source.")] = None,
    out: Annotated[Path | None, typer.Option(help="Write the rejected rows to this CSV file.")] = None,
    config: ConfigOption = None,
) -> None:
    """Show the quarantined rows (file, row, field, reason), or write them to a CSV file."""
    from storage.runs import read_quarantine

    frame = read_quarantine(_engine(_config(config)), source)
    if out is not None:
        frame.write_csv(out)
        typer.echo(f"{frame.height} quarantined record(s) written to {out}")
        return
    if frame.is_empty():
        typer.echo("the quarantine is empty")
        return
    for rec in frame.iter_rows(named=True):
        where = f"{rec['file']} row {rec['row']}" if rec["row"] is not None else rec["file"]
        typer.echo(f"{where}: {rec['field'] or '-'}: {rec['reason']}")


@app.command()
def demo(
    interactions: Annotated[
        int | None, typer.Option(help="How many interactions (default: demo.interactions).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (default: demo.seed).")] = None,
    out: Annotated[Path | None, typer.Option(help="Folder for the exports (default: demo.out_dir).")] = None,
    if_empty: Annotated[
        bool, typer.Option("--if-empty", help="Do nothing when the database already has data.")
    ] = False,
    load: Annotated[bool, typer.Option(help="Load the written exports through the real import path.")] = True,
    config: ConfigOption = None,
) -> None:
    """Write a realistic demo organisation's helpdesk exports and load them through the import path.

    The organisation has 12+ locations in several time zones, 15 teams, 150 agents, a year of history with
    status changes, reopens, survey answers and transcripts, and planted inconsistencies (see the README).
    """
    import time

    from connectors.generic import read_batches
    from connectors.run import run_batches
    from servicelens.demo import generate_demo

    cfg = _config(config)
    engine = _engine(cfg) if (load or if_empty) else None
    if if_empty and engine is not None:
        with engine.connect() as conn:
            has_rows = conn.exec_driver_sql("SELECT 1 FROM interactions LIMIT 1").first() is not None
        if has_rows:
            typer.echo("the database already has interactions; demo not loaded (drop --if-empty to reload)")
            return
    out_dir = out or Path(cfg.demo.out_dir)
    started = time.perf_counter()
    summary = generate_demo(
        out_dir, interactions=interactions or cfg.demo.interactions, seed=seed or cfg.demo.seed
    )
    typer.echo(
        f"wrote {summary.interactions} interactions and {summary.events} events to {out_dir} "
        f"in {time.perf_counter() - started:.1f}s"
    )
    if not load or engine is None:
        return
    started = time.perf_counter()
    report = run_batches(engine, "demo", read_batches(out_dir, source="demo"))
    typer.echo(report.summary() + f" ({time.perf_counter() - started:.1f}s)")
