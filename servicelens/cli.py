"""The ``servicelens`` command line. Each command is a thin edge over the library functions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from servicelens.commands.audit import app as audit_app
from servicelens.commands.common import ConfigOption, config_or_exit, ready_engine
from servicelens.commands.ingest import ingest
from servicelens.commands.scheduler import scheduler
from servicelens.commands.sla import app as sla_app

app = typer.Typer(
    help="servicelens: service-quality audits and SLA monitoring across locations and teams.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema management.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(sla_app, name="sla")
app.add_typer(audit_app, name="audit")
app.command()(ingest)
app.command("scheduler")(scheduler)


@app.command("check-config")
def check_config(config: ConfigOption = None) -> None:
    """Validate the config file; print every error with its path and exit non-zero if there are any."""
    cfg = config_or_exit(config)
    typer.echo(f"config OK: {len(cfg.connectors)} connector(s)")


@db_app.command("upgrade")
def db_upgrade(config: ConfigOption = None) -> None:
    """Create the database or migrate it to the latest schema (safe to run repeatedly)."""
    cfg = config_or_exit(config)
    ready_engine(cfg)
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

    frame = read_quarantine(ready_engine(config_or_exit(config)), source)
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


DemoFormats = Literal["vendor", "generic"]


@app.command()
def demo(
    interactions: Annotated[
        int | None, typer.Option(help="How many interactions (default: demo.interactions).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (default: demo.seed).")] = None,
    out: Annotated[Path | None, typer.Option(help="Folder for the exports (default: demo.out_dir).")] = None,
    formats: Annotated[
        DemoFormats,
        typer.Option(
            help="vendor: Zendesk and Freshdesk exports per site; generic: the generic import format."
        ),
    ] = "vendor",
    if_empty: Annotated[
        bool, typer.Option("--if-empty", help="Do nothing when the database already has data.")
    ] = False,
    load: Annotated[bool, typer.Option(help="Load the written exports through the real connectors.")] = True,
    config: ConfigOption = None,
) -> None:
    """Write a realistic demo organisation's helpdesk exports and load them through the real connectors.

    The organisation has 13 sites in 9 time zones, 15 teams, 150 agents, 13 months of history with status
    changes, reopens, survey answers and transcripts, and planted inconsistencies (see the README). After
    loading, SLA clocks are evaluated, the automatic protocol checks run on every transcript, and a first audit
    batch of the last two weeks is drawn for the configured auditors.
    """
    import time
    from datetime import UTC, datetime

    from servicelens.commands.audit import run_and_store_checks, sample_batch
    from servicelens.commands.sla import evaluate_and_store
    from servicelens.demo import generate_demo
    from servicelens.demo.load import load_demo

    cfg = config_or_exit(config)
    engine = ready_engine(cfg) if (load or if_empty) else None
    if if_empty and engine is not None:
        with engine.connect() as conn:
            has_rows = conn.exec_driver_sql("SELECT 1 FROM interactions LIMIT 1").first() is not None
        if has_rows:
            typer.echo("the database already has interactions; demo not loaded (drop --if-empty to reload)")
            return
    out_dir = out or Path(cfg.demo.out_dir)
    started = time.perf_counter()
    summary = generate_demo(
        out_dir,
        interactions=interactions or cfg.demo.interactions,
        seed=seed or cfg.demo.seed,
        formats=formats,
    )
    typer.echo(
        f"wrote {summary.interactions:,} interactions and {summary.events:,} events as {formats} exports "
        f"to {out_dir} in {time.perf_counter() - started:.1f}s"
    )
    if not load or engine is None:
        return
    started = time.perf_counter()
    for report in load_demo(engine, out_dir, formats):
        typer.echo(report.summary())
    typer.echo(f"loaded in {time.perf_counter() - started:.1f}s")
    now = datetime.now(UTC)
    evaluation = evaluate_and_store(engine, cfg, now)
    typer.echo(f"evaluated {evaluation.results.height:,} SLA clocks ({evaluation.seconds:.1f}s)")
    started = time.perf_counter()
    checks = run_and_store_checks(engine, cfg, now)
    typer.echo(f"ran {checks.height:,} automatic protocol checks ({time.perf_counter() - started:.1f}s)")
    if cfg.audits.sampling.auditors:
        sampled = sample_batch(engine, cfg, now=now, days=14, created_by="demo")
        typer.echo(
            f"audit batch {sampled.batch_id}: {sampled.batch.sample.height} interactions of the last 14 days "
            f"for {', '.join(cfg.audits.sampling.auditors)}"
        )


if __name__ == "__main__":
    app()
