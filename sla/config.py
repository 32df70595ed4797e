"""SLA configuration models (policies, calendars). Filled in by the SLA engine."""

from __future__ import annotations

from servicelens.strict import StrictModel


class SlaConfig(StrictModel):
    pass
