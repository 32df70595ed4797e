"""Connector configuration models."""

from __future__ import annotations

from servicelens.strict import StrictModel


class ConnectorConfig(StrictModel):
    name: str
