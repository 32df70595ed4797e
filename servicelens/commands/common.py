"""What every command shares: the --config option, loading the config, an up-to-date engine."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import sqlalchemy as sa
import typer

from servicelens.config import ConfigError, ServicelensConfig, load_config

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Config file (default: $SERVICELENS_CONFIG, ./servicelens.yaml, else the shipped example).",
    ),
]


def config_or_exit(path: Path | None) -> ServicelensConfig:
    """The config, or every problem in it printed and exit code 2."""
    try:
        return load_config(path)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


def ready_engine(config: ServicelensConfig) -> sa.Engine:
    """An engine on the configured database, its schema brought up to date."""
    from storage.db import make_engine, upgrade

    engine = make_engine(config.database.resolved_url())
    upgrade(engine)
    return engine


def load_config_and_engine(path: Path | None) -> tuple[ServicelensConfig, sa.Engine]:
    config = config_or_exit(path)
    return config, ready_engine(config)


def percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"
