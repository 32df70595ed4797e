"""Calibration sessions: the same interactions for several auditors, and each auditor's blind scores.

Blind scores live apart from reviews, so practice scoring never counts in the audit results. An auditor
may re-save their scores of an interaction; the newer ones replace the older.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import polars as pl
import sqlalchemy as sa

from audits.config import Scorecard
from audits.scoring import ItemRating, Review, normalise, validate_review
from storage import audit_tables as t
from storage.audit_common import AuditStoreError, _frame, _utc
from storage.sqlio import as_utc, connection_for


@dataclass(frozen=True)
class CalibrationSession:
    session_id: str
    name: str
    created_at: datetime
    created_by: str
    scorecard_id: str
    scorecard_version: int
    auditors: tuple[str, ...]
    interaction_ids: tuple[str, ...]  # in the order every auditor sees them


def create_calibration_session(conn: sa.Connection, session: CalibrationSession) -> None:
    if len(set(session.auditors)) < 2:
        raise AuditStoreError(f"calibration session {session.name!r}: needs at least two different auditors")
    if not session.interaction_ids:
        raise AuditStoreError(f"calibration session {session.name!r}: needs at least one interaction")
    if len(set(session.interaction_ids)) != len(session.interaction_ids):
        raise AuditStoreError(f"calibration session {session.name!r}: an interaction is listed twice")
    conn.execute(
        sa.insert(t.calibration_sessions),
        {
            "session_id": session.session_id,
            "name": session.name,
            "created_at": _utc(session.created_at, f"calibration session {session.name!r}"),
            "created_by": session.created_by,
            "scorecard_id": session.scorecard_id,
            "scorecard_version": session.scorecard_version,
        },
    )
    conn.execute(
        sa.insert(t.calibration_auditors),
        [{"session_id": session.session_id, "auditor": a} for a in dict.fromkeys(session.auditors)],
    )
    conn.execute(
        sa.insert(t.calibration_interactions),
        [
            {"session_id": session.session_id, "interaction_id": iid, "position": position}
            for position, iid in enumerate(session.interaction_ids)
        ],
    )


def read_calibration_sessions(bind: sa.Engine | sa.Connection) -> list[CalibrationSession]:
    """Every session, newest first."""
    s, a, i = t.calibration_sessions, t.calibration_auditors, t.calibration_interactions
    with connection_for(bind) as conn:
        heads = conn.execute(sa.select(s).order_by(s.c.created_at.desc(), s.c.session_id)).mappings().all()
        auditors: dict[str, list[str]] = {}
        for sid, auditor in conn.execute(sa.select(a.c.session_id, a.c.auditor).order_by(a.c.auditor)):
            auditors.setdefault(sid, []).append(auditor)
        interactions: dict[str, list[str]] = {}
        for sid, iid in conn.execute(sa.select(i.c.session_id, i.c.interaction_id).order_by(i.c.position)):
            interactions.setdefault(sid, []).append(iid)
    return [
        CalibrationSession(
            session_id=row["session_id"],
            name=row["name"],
            created_at=as_utc(row["created_at"]) or row["created_at"],
            created_by=row["created_by"],
            scorecard_id=row["scorecard_id"],
            scorecard_version=row["scorecard_version"],
            auditors=tuple(auditors.get(row["session_id"], [])),
            interaction_ids=tuple(interactions.get(row["session_id"], [])),
        )
        for row in heads
    ]


def save_calibration_scores(
    conn: sa.Connection,
    session: CalibrationSession,
    scorecard: Scorecard,
    *,
    auditor: str,
    interaction_id: str,
    ratings: Sequence[ItemRating],
    scored_at: datetime,
) -> None:
    """Store (or replace) one auditor's blind scores of one session interaction."""
    where = f"calibration session {session.name!r}"
    if auditor not in session.auditors:
        raise AuditStoreError(
            f"{where}: {auditor} is not one of its auditors ({', '.join(session.auditors)})"
        )
    if interaction_id not in session.interaction_ids:
        raise AuditStoreError(f"{where}: interaction {interaction_id} is not part of it")
    probe = Review(
        review_id=f"{session.session_id}/{auditor}/{interaction_id}",
        interaction_id=interaction_id,
        auditor=auditor,
        scorecard_id=session.scorecard_id,
        scorecard_version=session.scorecard_version,
        ratings=tuple(ratings),
        scored_at=scored_at,
    )
    validate_review(probe, scorecard)  # same rules as a review: every item, within scale
    c = t.calibration_scores
    conn.execute(
        sa.delete(c).where(
            (c.c.session_id == session.session_id)
            & (c.c.auditor == auditor)
            & (c.c.interaction_id == interaction_id)
        )
    )
    stamp = _utc(scored_at, where)
    conn.execute(
        sa.insert(c),
        [
            {
                "session_id": session.session_id,
                "interaction_id": interaction_id,
                "auditor": auditor,
                "item_id": r.item_id,
                "rating": r.rating,
                "scored_at": stamp,
            }
            for r in ratings
        ],
    )


CALIBRATION_SCORE_SCHEMA: dict[str, pl.DataType] = {
    "interaction_id": pl.String(),
    "auditor": pl.String(),
    "item_id": pl.String(),
    "rating": pl.Int64(),
    "scored_at": pl.Datetime("us", "UTC"),
}


def read_calibration_scores(
    bind: sa.Engine | sa.Connection, session_id: str, scorecard: Scorecard
) -> pl.DataFrame:
    """The session's blind scores with ``normalised`` (0..1, null for N/A), ready for ``calibrate``."""
    c = t.calibration_scores
    query = (
        sa.select(*[c.c[name] for name in CALIBRATION_SCORE_SCHEMA])
        .where(c.c.session_id == session_id)
        .order_by(c.c.interaction_id, c.c.auditor, c.c.item_id)
    )
    with connection_for(bind) as conn:
        frame = _frame(conn.execute(query).all(), CALIBRATION_SCORE_SCHEMA)
    items = {item.id: item for item in scorecard.items}
    normalised = [
        None if rating is None or item_id not in items else normalise(items[item_id], rating)
        for item_id, rating in zip(frame["item_id"], frame["rating"], strict=True)
    ]
    return frame.with_columns(pl.Series("normalised", normalised, dtype=pl.Float64))
