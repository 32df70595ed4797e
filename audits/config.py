"""Audit configuration models (scorecards, sampling, protocol checks)."""

from __future__ import annotations

from servicelens.strict import StrictModel


class AuditsConfig(StrictModel):
    pass
