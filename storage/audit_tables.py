"""SQL tables of the QA audit workbench, on the shared ``storage.tables.metadata``.

Reviews keep every revision: ``audit_reviews`` holds what never changes (who audits which interaction on
which scorecard version); each save adds an ``audit_review_revisions`` row and its ``audit_item_ratings``.
Disputes are decided once and never deleted. Calibration scores are kept apart from reviews so blind
practice scoring never counts in the results. Automatic check results keep the latest outcome of each
check on each interaction.
"""

from __future__ import annotations

import sqlalchemy as sa

from storage.tables import INTERACTION_ID, TS, metadata

INTERACTION_FK = "interactions.interaction_id"

audit_batches = sa.Table(
    "audit_batches",
    metadata,
    sa.Column("batch_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("seed", sa.Integer, nullable=False),
    sa.Column("plan", sa.Text, nullable=False),  # the sampling plan as JSON, to explain the batch later
    sa.Column("note", sa.Text, nullable=False, server_default=""),
)

audit_batch_items = sa.Table(
    "audit_batch_items",
    metadata,
    sa.Column(
        "batch_id", sa.Integer, sa.ForeignKey("audit_batches.batch_id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column(
        "interaction_id", INTERACTION_ID, sa.ForeignKey(INTERACTION_FK, ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("stratum", sa.String(600), nullable=False),
    sa.Column("reason", sa.String(40), nullable=False),  # a targeted rule or "random"
    sa.Column("sample_key", sa.Float, nullable=False),
    sa.Column("auditor", sa.String(200), nullable=False),
    sa.Index("ix_audit_batch_items_auditor", "auditor"),
    sa.Index("ix_audit_batch_items_interaction_id", "interaction_id"),
)

audit_reassignments = sa.Table(
    "audit_reassignments",
    metadata,
    sa.Column("reassignment_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "batch_id", sa.Integer, sa.ForeignKey("audit_batches.batch_id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("interaction_id", INTERACTION_ID, nullable=False),
    sa.Column("from_auditor", sa.String(200), nullable=False),
    sa.Column("to_auditor", sa.String(200), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("reassigned_by", sa.String(200), nullable=False),
    sa.Column("reassigned_at", TS, nullable=False),
)

audit_reviews = sa.Table(
    "audit_reviews",
    metadata,
    sa.Column("review_id", sa.String(64), primary_key=True),
    sa.Column(
        "interaction_id", INTERACTION_ID, sa.ForeignKey(INTERACTION_FK, ondelete="CASCADE"), nullable=False
    ),
    sa.Column("auditor", sa.String(200), nullable=False),
    sa.Column("scorecard_id", sa.String(100), nullable=False),
    sa.Column("scorecard_version", sa.Integer, nullable=False),
    sa.Column("batch_id", sa.Integer, sa.ForeignKey("audit_batches.batch_id", ondelete="SET NULL")),
    sa.Column("created_at", TS, nullable=False),
    # One review per auditor and interaction: a second save is an edit, never a parallel review.
    sa.UniqueConstraint("interaction_id", "auditor", name="uq_audit_reviews_interaction_id"),
    sa.Index("ix_audit_reviews_auditor", "auditor"),
)

audit_review_revisions = sa.Table(
    "audit_review_revisions",
    metadata,
    sa.Column(
        "review_id",
        sa.String(64),
        sa.ForeignKey("audit_reviews.review_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("revision", sa.Integer, primary_key=True),
    sa.Column("scored_at", TS, nullable=False),
    sa.Column("comment", sa.Text, nullable=False, server_default=""),
    sa.Column("edited_by", sa.String(200)),
    sa.Column("edit_reason", sa.Text, nullable=False, server_default=""),
)

audit_item_ratings = sa.Table(
    "audit_item_ratings",
    metadata,
    sa.Column("review_id", sa.String(64), primary_key=True),
    sa.Column("revision", sa.Integer, primary_key=True),
    sa.Column("item_id", sa.String(100), primary_key=True),
    sa.Column("position", sa.SmallInteger, nullable=False),  # the scorecard order the review was saved in
    sa.Column("rating", sa.SmallInteger),  # null: not applicable
    sa.Column("comment", sa.Text, nullable=False, server_default=""),
    sa.ForeignKeyConstraint(
        ["review_id", "revision"],
        ["audit_review_revisions.review_id", "audit_review_revisions.revision"],
        name="fk_audit_item_ratings_review_id_audit_review_revisions",
        ondelete="CASCADE",
    ),
)

audit_disputes = sa.Table(
    "audit_disputes",
    metadata,
    sa.Column("dispute_id", sa.String(64), primary_key=True),
    sa.Column(
        "review_id",
        sa.String(64),
        sa.ForeignKey("audit_reviews.review_id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("item_id", sa.String(100), nullable=False),
    sa.Column("raised_by", sa.String(200), nullable=False),
    sa.Column("raised_at", TS, nullable=False),
    sa.Column("comment", sa.Text, nullable=False),
    sa.Column("proposed_rating", sa.SmallInteger),  # null: proposes N/A
    sa.Column("status", sa.String(20), nullable=False),  # open | accepted | rejected
    sa.Column("decided_by", sa.String(200)),
    sa.Column("decided_at", TS),
    sa.Column("decision_comment", sa.Text, nullable=False, server_default=""),
    sa.Index("ix_audit_disputes_review_id", "review_id"),
    sa.Index("ix_audit_disputes_status", "status"),
)

calibration_sessions = sa.Table(
    "calibration_sessions",
    metadata,
    sa.Column("session_id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("scorecard_id", sa.String(100), nullable=False),
    sa.Column("scorecard_version", sa.Integer, nullable=False),
)

calibration_auditors = sa.Table(
    "calibration_auditors",
    metadata,
    sa.Column(
        "session_id",
        sa.String(64),
        sa.ForeignKey("calibration_sessions.session_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("auditor", sa.String(200), primary_key=True),
)

calibration_interactions = sa.Table(
    "calibration_interactions",
    metadata,
    sa.Column(
        "session_id",
        sa.String(64),
        sa.ForeignKey("calibration_sessions.session_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column(
        "interaction_id", INTERACTION_ID, sa.ForeignKey(INTERACTION_FK, ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("position", sa.Integer, nullable=False),  # the order every auditor sees
)

calibration_scores = sa.Table(
    "calibration_scores",
    metadata,
    sa.Column(
        "session_id",
        sa.String(64),
        sa.ForeignKey("calibration_sessions.session_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("interaction_id", INTERACTION_ID, primary_key=True),
    sa.Column("auditor", sa.String(200), primary_key=True),
    sa.Column("item_id", sa.String(100), primary_key=True),
    sa.Column("rating", sa.SmallInteger),  # null: not applicable
    sa.Column("scored_at", TS, nullable=False),
)

audit_check_results = sa.Table(
    "audit_check_results",
    metadata,
    sa.Column(
        "interaction_id", INTERACTION_ID, sa.ForeignKey(INTERACTION_FK, ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("check_name", sa.String(100), primary_key=True),
    sa.Column("item", sa.String(100)),
    sa.Column("outcome", sa.String(20), nullable=False),  # pass | fail | not_applicable | error
    sa.Column("value", sa.Integer),
    sa.Column("target", sa.Text, nullable=False),
    sa.Column("evidence", sa.Text),
    sa.Column("message_index", sa.Integer),
    sa.Column("diagnostics", sa.Text),
    sa.Column("checked_at", TS, nullable=False),
    sa.Index("ix_audit_check_results_check_name", "check_name"),
)
