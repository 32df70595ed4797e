"""Loads a written demo organisation into the database through the real connectors.

Generic files go through the generic import; vendor exports through each helpdesk's parser and the same
load pipeline (``connectors.run.run_batches``) a scheduled connector uses. Each vendor file holds its tickets
together with their history, and a batch upserts its tickets before it stores their events, so no event
ever arrives before its ticket.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from pydantic import TypeAdapter

from connectors.base import Batch
from connectors.config import ConnectorConfig, FileConnector
from connectors.files import sha256_of
from connectors.generic import read_batches
from connectors.registry import connector_files, parse_connector_files
from connectors.run import RunReport, run_batches
from servicelens.demo.write import FORMATS, DemoFormat, demo_connectors

GENERIC_CONNECTOR = "demo"
_CONNECTOR = TypeAdapter(ConnectorConfig)


def demo_connector_configs(out_dir: Path) -> list[FileConnector]:
    """The validated connector configs that read the vendor exports in ``out_dir``."""
    configs: list[FileConnector] = []
    for entry in demo_connectors(out_dir):
        config = _CONNECTOR.validate_python(entry)
        assert isinstance(config, FileConnector)
        configs.append(config)
    return configs


def _file_batches(config: FileConnector, files: list[Path]) -> Iterator[Batch]:
    for path, parsed in parse_connector_files(config, files):
        batch = parsed.batch
        batch.file_fingerprint = (str(path), sha256_of(path))
        yield batch


def load_demo(engine: sa.Engine, out_dir: Path, formats: DemoFormat = "generic") -> list[RunReport]:
    """Load the demo files in ``out_dir`` (written by ``generate_demo`` with the same ``formats``).

    Returns one run report per connector: ``demo`` for the generic files, else one per helpdesk source.
    """
    if formats not in FORMATS:
        raise ValueError(f"formats must be one of {FORMATS}, got {formats!r}")
    if formats == "generic":
        return [run_batches(engine, GENERIC_CONNECTOR, read_batches(out_dir, source=GENERIC_CONNECTOR))]
    configs = demo_connector_configs(out_dir)
    if not configs:
        raise FileNotFoundError(f"{out_dir}: no vendor export folders (demo-zendesk/, demo-freshdesk/) found")
    reports = []
    for config in configs:
        files = connector_files(config)
        reports.append(run_batches(engine, config.name, _file_batches(config, files), remember_files=True))
    return reports
