"""``servicelens sla``: evaluate every SLA clock and store the results; report compliance with its n.

The work happens in ``sla/`` (pure) and ``storage.sla_repo``; :func:`evaluate_and_store` is what the
demo loader and the scheduler call too.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import polars as pl
import sqlalchemy as sa
import typer

from servicelens.commands.ingest import ConfigOption, config_or_exit, ready_engine
from servicelens.config import ServicelensConfig
from sla.compliance import GROUPABLE, compliance
from sla.config import SlaConfig
from sla.evaluate import RESULT_COLUMNS, evaluate_detailed
from storage.repo import read_events, read_interactions
from storage.sla_repo import (
    CLOCK_EVENT_COLUMNS,
    config_fingerprint,
    read_clock_events,
    read_results,
    replace_results,
)

app = typer.Typer(
    help="SLA clocks: evaluate every interaction against the policies, report compliance.",
    no_args_is_help=True,
)

OUTPUT_FORMATS = (".csv", ".parquet")
COMPLIANCE_COLUMNS = [
    "n",
    "met",
    "breached",
    "compliance",
    "median_elapsed_minutes",
    "running",
    "at_risk",
    "paused",
    "not_applicable",
]


@dataclass(frozen=True)
class SlaEvaluation:
    results: pl.DataFrame  # evaluate_detailed rows
    stored: int  # rows written to the database
    now: datetime
    seconds: float


def _sla(config: ServicelensConfig | SlaConfig) -> SlaConfig:
    return config if isinstance(config, SlaConfig) else config.sla


def evaluate_and_store(
    engine: sa.Engine,
    config: ServicelensConfig | SlaConfig,
    now: datetime,
    interaction_ids: Sequence[str] | None = None,
) -> SlaEvaluation:
    """Evaluate every interaction (or only ``interaction_ids``, after their events changed) as of ``now``
    and replace their stored results in one transaction."""
    if now.tzinfo is None:
        raise ValueError(f"now={now.isoformat()} has no time zone")
    sla = _sla(config)
    started = time.perf_counter()
    interactions = read_interactions(engine)
    if interaction_ids is None:
        events = read_clock_events(engine)
    else:
        wanted = pl.Series(list(interaction_ids), dtype=pl.String).implode()
        interactions = interactions.filter(pl.col("interaction_id").is_in(wanted))
        events = read_events(engine, list(interaction_ids)).select(CLOCK_EVENT_COLUMNS)
    results = evaluate_detailed(interactions.lazy(), events.lazy(), sla, now).collect()
    with engine.begin() as conn:
        stored = replace_results(
            conn,
            results,
            evaluated_at=now,
            fingerprint=config_fingerprint(sla),
            interaction_ids=interaction_ids,
        )
    return SlaEvaluation(results, stored, now, time.perf_counter() - started)


def parse_instant(text: str, option: str = "--as-of") -> datetime:
    """An ISO 8601 timestamp; one without an offset is read as UTC."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not an ISO timestamp like 2026-03-31T12:00:00Z", param_hint=option
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def write_results(results: pl.DataFrame, out: Path) -> None:
    """Write exactly :data:`sla.evaluate.RESULT_COLUMNS`, one row per interaction x metric x cycle."""
    rows = results.select(RESULT_COLUMNS).sort("interaction_id", "metric", "cycle")
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".parquet":
        rows.write_parquet(out)
    else:
        rows.write_csv(out)


def _status_summary(results: pl.DataFrame) -> list[str]:
    counts = results.group_by("metric", "status").len().sort("metric", "status")
    lines = []
    for (metric,), group in counts.group_by(["metric"], maintain_order=True):
        parts = ", ".join(f"{s} {n:,}" for s, n in group.select("status", "len").iter_rows())
        lines.append(f"  {metric}: {parts}")
    return lines


@app.command("evaluate")
def evaluate_command(
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of", help="Evaluate as of this instant (ISO 8601; no offset means UTC). Default: now."
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Also write the results to FILE.csv or FILE.parquet (one row per clock)."),
    ] = None,
    store: Annotated[
        bool, typer.Option(help="Replace the stored results (the dashboard's SLA page reads them).")
    ] = True,
    config: ConfigOption = None,
) -> None:
    """Evaluate every interaction x metric x cycle against the `sla:` policies and calendars."""
    if out is not None and out.suffix.lower() not in OUTPUT_FORMATS:
        raise typer.BadParameter(f"{out} must end in .csv or .parquet", param_hint="--out")
    now = parse_instant(as_of) if as_of else datetime.now(UTC)
    cfg = config_or_exit(config)
    engine = ready_engine(cfg)
    if store:
        evaluation = evaluate_and_store(engine, cfg, now)
        results, seconds = evaluation.results, evaluation.seconds
    else:
        started = time.perf_counter()
        events = read_clock_events(engine)
        results = evaluate_detailed(read_interactions(engine).lazy(), events.lazy(), cfg.sla, now).collect()
        seconds = time.perf_counter() - started
    typer.echo(f"evaluated {results.height:,} SLA clock(s) as of {now.isoformat()} in {seconds:.1f}s")
    for line in _status_summary(results):
        typer.echo(line)
    if store:
        typer.echo("results stored")
    if out is not None:
        write_results(results, out)
        typer.echo(f"{results.height:,} row(s) written to {out}")


def parse_keys(text: str) -> list[str]:
    keys = [k.strip() for k in text.split(",") if k.strip()]
    unknown = [k for k in keys if k not in GROUPABLE]
    if unknown:
        raise typer.BadParameter(
            f"cannot group by {', '.join(unknown)}; choose from {', '.join(GROUPABLE)}", param_hint="--by"
        )
    return keys


def compliance_table(
    results: pl.DataFrame, interactions: pl.DataFrame, by: Sequence[str], config: SlaConfig
) -> pl.DataFrame:
    """Compliance of stored results by ``by`` (always also by metric)."""
    return compliance(results.lazy(), interactions.lazy(), by=list(by), config=config).collect()


@app.command("compliance")
def compliance_command(
    by: Annotated[
        str, typer.Option(help=f"Comma-separated keys, any of: {', '.join(GROUPABLE)}.")
    ] = "metric",
    metric: Annotated[str | None, typer.Option(help="Only this metric, e.g. first_response.")] = None,
    out: Annotated[Path | None, typer.Option(help="Write the table to this CSV file.")] = None,
    config: ConfigOption = None,
) -> None:
    """Print compliance (met / decided clocks) with its n from the stored results."""
    keys = parse_keys(by)
    cfg = config_or_exit(config)
    engine = ready_engine(cfg)
    results = read_results(engine)
    if results.is_empty():
        typer.echo("no SLA results stored yet; run `servicelens sla evaluate` first", err=True)
        raise typer.Exit(1)
    if metric is not None:
        results = results.filter(pl.col("metric") == metric)
        if results.is_empty():
            typer.echo(f"no stored results for metric {metric!r}", err=True)
            raise typer.Exit(1)
    table = compliance_table(results, read_interactions(engine), keys, cfg.sla)
    group_keys = list(dict.fromkeys(["metric", *keys]))
    table = table.select(*group_keys, *COMPLIANCE_COLUMNS)
    if out is not None:
        table.write_csv(out)
        typer.echo(f"{table.height} row(s) written to {out}")
        return
    shown = table.with_columns(
        (pl.col("compliance") * 100).round(1).alias("compliance"),
        pl.col("median_elapsed_minutes").round(1),
    ).rename({"compliance": "compliance %"})
    with pl.Config(
        tbl_rows=-1,
        tbl_cols=-1,
        tbl_hide_dataframe_shape=True,
        tbl_hide_column_data_types=True,
        tbl_formatting="ASCII_MARKDOWN",
        tbl_width_chars=400,
        fmt_str_lengths=80,
    ):
        typer.echo(str(shown))
    typer.echo("n = decided clocks (met + breached); compliance = met / n")
