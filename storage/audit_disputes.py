"""Disputes of QA reviews: raising one, recording its decision (once), and loading them back.

A dispute is never overwritten: the arbitrator's decision fills in the open dispute exactly once.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from audits.scoring import Dispute, DisputeStatus
from storage import audit_tables as t
from storage.audit_common import AuditStoreError, _utc
from storage.sqlio import as_utc, connection_for


def save_dispute(conn: sa.Connection, dispute: Dispute) -> None:
    """Store a newly raised dispute (from ``audits.scoring.open_dispute``)."""
    if dispute.status is not DisputeStatus.OPEN:
        raise AuditStoreError(f"dispute {dispute.dispute_id}: only an open dispute can be raised")
    conn.execute(
        sa.insert(t.audit_disputes),
        {
            "dispute_id": dispute.dispute_id,
            "review_id": dispute.review_id,
            "item_id": dispute.item_id,
            "raised_by": dispute.raised_by,
            "raised_at": _utc(dispute.raised_at, f"dispute {dispute.dispute_id}"),
            "comment": dispute.comment,
            "proposed_rating": dispute.proposed_rating,
            "status": dispute.status.value,
            "decision_comment": "",
        },
    )


def record_decision(conn: sa.Connection, decided: Dispute) -> None:
    """Store an arbitrator's decision (from ``audits.scoring.decide_dispute``); a dispute is decided once,
    even when two arbitrators press the button at the same moment."""
    if decided.status is DisputeStatus.OPEN or decided.decided_at is None:
        raise AuditStoreError(f"dispute {decided.dispute_id}: no decision to record")
    d = t.audit_disputes
    changed = conn.execute(
        sa.update(d)
        .where((d.c.dispute_id == decided.dispute_id) & (d.c.status == DisputeStatus.OPEN.value))
        .values(
            status=decided.status.value,
            decided_by=decided.decided_by,
            decided_at=_utc(decided.decided_at, f"dispute {decided.dispute_id}"),
            decision_comment=decided.decision_comment,
        )
    ).rowcount
    if changed != 1:
        raise AuditStoreError(f"dispute {decided.dispute_id} is unknown or was already decided")


def load_disputes(
    bind: sa.Engine | sa.Connection, *, review_ids: Sequence[str] | None = None, status: str | None = None
) -> list[Dispute]:
    """Disputes in the order they were raised, optionally only those of some reviews or of one status."""
    d = t.audit_disputes
    query = sa.select(d).order_by(d.c.raised_at, d.c.dispute_id)
    if review_ids is not None:
        query = query.where(d.c.review_id.in_(list(review_ids)))
    if status is not None:
        query = query.where(d.c.status == status)
    with connection_for(bind) as conn:
        rows = conn.execute(query).mappings().all()
    return [
        Dispute(
            dispute_id=row["dispute_id"],
            review_id=row["review_id"],
            item_id=row["item_id"],
            raised_by=row["raised_by"],
            raised_at=as_utc(row["raised_at"]) or row["raised_at"],
            comment=row["comment"],
            proposed_rating=row["proposed_rating"],
            status=DisputeStatus(row["status"]),
            decided_by=row["decided_by"],
            decided_at=as_utc(row["decided_at"]),
            decision_comment=row["decision_comment"],
        )
        for row in rows
    ]
