"""SQL table of evaluated SLA clocks, on the shared ``storage.tables.metadata``.

One row per interaction x metric x cycle, as ``sla.evaluate.evaluate_detailed`` returns them, plus when
they were evaluated and a fingerprint of the ``sla:`` config that produced them, so a page can tell
results computed under an older policy from current ones. ``started_at`` and ``calendar`` are kept
because compliance by local week needs them.
"""

from __future__ import annotations

import sqlalchemy as sa

from storage.tables import INTERACTION_ID, TS, metadata

sla_results = sa.Table(
    "sla_results",
    metadata,
    sa.Column(
        "interaction_id",
        INTERACTION_ID,
        sa.ForeignKey("interactions.interaction_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("metric", sa.String(30), primary_key=True),
    sa.Column("cycle", sa.Integer, primary_key=True),
    sa.Column("policy", sa.String(200), nullable=False),
    sa.Column("target_minutes", sa.Float),
    sa.Column("elapsed_minutes", sa.Float),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("due_at", TS),
    sa.Column("completed_at", TS),
    sa.Column("started_at", TS, nullable=False),
    sa.Column("calendar", sa.String(100), nullable=False),
    sa.Column("evaluated_at", TS, nullable=False),
    sa.Column("config_fingerprint", sa.String(32), nullable=False),
    sa.Index("ix_sla_results_status", "status"),
)
