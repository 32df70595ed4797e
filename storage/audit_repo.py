"""Saving and loading the QA audit workbench: batches, reviews with their revisions and automatic check
results (disputes: ``storage.audit_disputes``; calibration sessions: ``storage.calibration_repo``). Reads
come back as the audit core's values or as polars frames. The dispute functions, the store's error and
``new_id`` are importable from here as well, so callers use one module for the whole workbench.

Nothing here is ever overwritten except check results (the latest run per interaction and check counts):
a review edit adds a revision, a dispute decision fills in the open dispute once, a reassignment is
logged beside the changed assignment.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

import polars as pl
import sqlalchemy as sa

from audits.checks import RESULT_SCHEMA
from audits.config import SamplingPlan, Scorecard
from audits.sampling import AuditBatch, Reassignment
from audits.scoring import ItemRating, Review, validate_review
from storage import audit_tables as t
from storage.audit_common import AuditStoreError, _frame, _utc, new_id
from storage.audit_disputes import load_disputes, record_decision, save_dispute
from storage.sqlio import as_utc, connection_for, read_frame, to_db_frame

__all__ = [
    "BATCH_ITEM_SCHEMA",
    "CHECK_RESULT_SCHEMA",
    "AuditStoreError",
    "load_disputes",
    "load_reviews",
    "new_id",
    "open_load",
    "read_batch_items",
    "read_check_results",
    "read_reassignments",
    "record_decision",
    "record_reassignment",
    "review_history",
    "sampled_interaction_ids",
    "save_batch",
    "save_check_results",
    "save_dispute",
    "save_review",
]

CHECK_RESULT_SCHEMA: dict[str, pl.DataType] = {**RESULT_SCHEMA, "checked_at": pl.Datetime("us", "UTC")}
WRITE_CHUNK = 5000

# --- batches -------------------------------------------------------------------------------------------

BATCH_ITEM_SCHEMA: dict[str, pl.DataType] = {
    "batch_id": pl.Int64(),
    "batch_created_at": pl.Datetime("us", "UTC"),
    "interaction_id": pl.String(),
    "stratum": pl.String(),
    "reason": pl.String(),
    "auditor": pl.String(),
    "review_id": pl.String(),  # the assigned auditor's review, null while still to do
}


def save_batch(
    conn: sa.Connection, batch: AuditBatch, *, created_by: str, plan: SamplingPlan, note: str = ""
) -> int:
    """Store a new batch with its sampled, assigned interactions; returns the batch id."""
    if batch.sample.is_empty():
        raise AuditStoreError("the batch is empty: no interaction matched the sampling plan")
    batch_id = conn.execute(
        sa.insert(t.audit_batches).returning(t.audit_batches.c.batch_id),
        {
            "created_at": _utc(batch.created_at, "batch"),
            "created_by": created_by,
            "seed": batch.seed,
            "plan": json.dumps(plan.model_dump(mode="json"), sort_keys=True),
            "note": note,
        },
    ).scalar_one()
    rows = batch.sample.select("interaction_id", "stratum", "reason", "sample_key", "auditor").to_dicts()
    conn.execute(sa.insert(t.audit_batch_items), [{**row, "batch_id": batch_id} for row in rows])
    for entry in batch.reassignments:
        _log_reassignment(conn, batch_id, entry)
    return int(batch_id)


def read_batch_items(bind: sa.Engine | sa.Connection, auditor: str | None = None) -> pl.DataFrame:
    """Every sampled interaction (or one auditor's), with the assigned auditor's review id when done."""
    items, batches, reviews = t.audit_batch_items, t.audit_batches, t.audit_reviews
    query = (
        sa.select(
            items.c.batch_id,
            batches.c.created_at,
            items.c.interaction_id,
            items.c.stratum,
            items.c.reason,
            items.c.auditor,
            reviews.c.review_id,
        )
        .join(batches, batches.c.batch_id == items.c.batch_id)
        .outerjoin(
            reviews,
            (reviews.c.interaction_id == items.c.interaction_id) & (reviews.c.auditor == items.c.auditor),
        )
        .order_by(items.c.batch_id, items.c.stratum, items.c.sample_key)
    )
    if auditor is not None:
        query = query.where(items.c.auditor == auditor)
    with connection_for(bind) as conn:
        return _frame(conn.execute(query).all(), BATCH_ITEM_SCHEMA)


def sampled_interaction_ids(bind: sa.Engine | sa.Connection) -> list[str]:
    """Interactions already in some batch: a new batch leaves them out."""
    with connection_for(bind) as conn:
        return list(conn.execute(sa.select(t.audit_batch_items.c.interaction_id).distinct()).scalars())


def open_load(bind: sa.Engine | sa.Connection) -> dict[str, int]:
    """Open audits (sampled, not yet reviewed) per auditor, for balanced assignment."""
    items = read_batch_items(bind)
    counts = items.filter(pl.col("review_id").is_null()).group_by("auditor").len()
    return dict(zip(counts["auditor"].to_list(), counts["len"].to_list(), strict=True))


def _log_reassignment(conn: sa.Connection, batch_id: int, entry: Reassignment) -> None:
    conn.execute(
        sa.insert(t.audit_reassignments),
        {
            "batch_id": batch_id,
            "interaction_id": entry.interaction_id,
            "from_auditor": entry.from_auditor,
            "to_auditor": entry.to_auditor,
            "reason": entry.reason,
            "reassigned_by": entry.by,
            "reassigned_at": _utc(entry.at, f"reassignment of {entry.interaction_id}"),
        },
    )


def record_reassignment(conn: sa.Connection, batch_id: int, entry: Reassignment) -> None:
    """Move one sampled interaction to another auditor (from ``audits.sampling.reassign``) and log it."""
    items = t.audit_batch_items
    moved = conn.execute(
        sa.update(items)
        .where(
            (items.c.batch_id == batch_id)
            & (items.c.interaction_id == entry.interaction_id)
            & (items.c.auditor == entry.from_auditor)
            # Enforced here too, so two writers racing cannot move an interaction already reviewed.
            & ~sa.exists().where(
                (t.audit_reviews.c.interaction_id == items.c.interaction_id)
                & (t.audit_reviews.c.auditor == items.c.auditor)
            )
        )
        .values(auditor=entry.to_auditor)
    ).rowcount
    if moved != 1:
        reviewed = conn.execute(
            sa.select(sa.func.count()).where(
                (t.audit_reviews.c.interaction_id == entry.interaction_id)
                & (t.audit_reviews.c.auditor == entry.from_auditor)
            )
        ).scalar()
        if reviewed:
            raise AuditStoreError(
                f"batch {batch_id}: already reviewed, so it stays with its auditor: "
                f"{entry.interaction_id} (reviewed by {entry.from_auditor}); edit or dispute the review instead"
            )
        raise AuditStoreError(
            f"batch {batch_id}: interaction {entry.interaction_id} is not assigned to {entry.from_auditor}"
        )
    _log_reassignment(conn, batch_id, entry)


def read_reassignments(bind: sa.Engine | sa.Connection) -> pl.DataFrame:
    r = t.audit_reassignments
    schema: dict[str, pl.DataType] = {
        "batch_id": pl.Int64(),
        "interaction_id": pl.String(),
        "from_auditor": pl.String(),
        "to_auditor": pl.String(),
        "reason": pl.String(),
        "reassigned_by": pl.String(),
        "reassigned_at": pl.Datetime("us", "UTC"),
    }
    query = sa.select(*[r.c[name] for name in schema]).order_by(r.c.reassignment_id)
    with connection_for(bind) as conn:
        return _frame(conn.execute(query).all(), schema)


# --- reviews -------------------------------------------------------------------------------------------


def save_review(
    conn: sa.Connection, review: Review, scorecard: Scorecard, *, batch_id: int | None = None
) -> None:
    """Store a review's first revision, or an edit (revision n + 1) beside the older ones."""
    validate_review(review, scorecard)
    reviews, revisions = t.audit_reviews, t.audit_review_revisions
    where = f"review {review.review_id}"
    if review.revision == 1:
        taken = conn.execute(
            sa.select(reviews.c.review_id).where(
                (reviews.c.interaction_id == review.interaction_id) & (reviews.c.auditor == review.auditor)
            )
        ).scalar()
        if taken is not None:
            raise AuditStoreError(
                f"{where}: {review.auditor} already reviewed {review.interaction_id} as {taken}; edit that review"
            )
        conn.execute(
            sa.insert(reviews),
            {
                "review_id": review.review_id,
                "interaction_id": review.interaction_id,
                "auditor": review.auditor,
                "scorecard_id": review.scorecard_id,
                "scorecard_version": review.scorecard_version,
                "batch_id": batch_id,
                "created_at": _utc(review.scored_at, where),
            },
        )
    else:
        latest = conn.execute(
            sa.select(sa.func.max(revisions.c.revision)).where(revisions.c.review_id == review.review_id)
        ).scalar()
        if latest is None:
            raise AuditStoreError(
                f"{where}: no earlier revision is stored, so revision {review.revision} cannot be"
            )
        if latest != review.revision - 1:
            raise AuditStoreError(
                f"{where}: revision {latest} was saved meanwhile; reload the review before editing it"
            )
    conn.execute(
        sa.insert(revisions),
        {
            "review_id": review.review_id,
            "revision": review.revision,
            "scored_at": _utc(review.scored_at, where),
            "comment": review.comment,
            "edited_by": review.edited_by,
            "edit_reason": review.edit_reason,
        },
    )
    conn.execute(
        sa.insert(t.audit_item_ratings),
        [
            {
                "review_id": review.review_id,
                "revision": review.revision,
                "item_id": r.item_id,
                "position": position,
                "rating": r.rating,
                "comment": r.comment,
            }
            for position, r in enumerate(review.ratings)
        ],
    )


def load_reviews(
    bind: sa.Engine | sa.Connection,
    *,
    review_ids: Sequence[str] | None = None,
    interaction_ids: Sequence[str] | None = None,
    latest_only: bool = False,
) -> list[Review]:
    """Reviews with every revision (or only the latest), ordered by review and revision."""
    reviews, revisions, ratings = t.audit_reviews, t.audit_review_revisions, t.audit_item_ratings
    query = (
        sa.select(reviews, revisions.c.revision, revisions.c.scored_at, revisions.c.comment)
        .add_columns(revisions.c.edited_by, revisions.c.edit_reason)
        .join(revisions, revisions.c.review_id == reviews.c.review_id)
        .order_by(reviews.c.review_id, revisions.c.revision)
    )
    if review_ids is not None:
        query = query.where(reviews.c.review_id.in_(list(review_ids)))
    if interaction_ids is not None:
        query = query.where(reviews.c.interaction_id.in_(list(interaction_ids)))
    if latest_only:
        later = revisions.alias("later")
        newest = (
            sa.select(sa.func.max(later.c.revision))
            .where(later.c.review_id == revisions.c.review_id)
            .scalar_subquery()
        )
        query = query.where(revisions.c.revision == newest)
    with connection_for(bind) as conn:
        heads = conn.execute(query).mappings().all()
        wanted = {row["review_id"] for row in heads}
        by_revision: dict[tuple[str, int], list[ItemRating]] = {}
        rating_query = sa.select(ratings).order_by(
            ratings.c.review_id, ratings.c.revision, ratings.c.position
        )
        if review_ids is not None or interaction_ids is not None:
            rating_query = rating_query.where(ratings.c.review_id.in_(sorted(wanted)))
        for row in conn.execute(rating_query).mappings():
            by_revision.setdefault((row["review_id"], row["revision"]), []).append(
                ItemRating(row["item_id"], row["rating"], row["comment"])
            )
    return [
        Review(
            review_id=row["review_id"],
            interaction_id=row["interaction_id"],
            auditor=row["auditor"],
            scorecard_id=row["scorecard_id"],
            scorecard_version=row["scorecard_version"],
            ratings=tuple(by_revision.get((row["review_id"], row["revision"]), [])),
            scored_at=as_utc(row["scored_at"]) or row["scored_at"],
            comment=row["comment"],
            revision=row["revision"],
            edited_by=row["edited_by"],
            edit_reason=row["edit_reason"],
        )
        for row in heads
    ]


def review_history(bind: sa.Engine | sa.Connection, review_id: str) -> pl.DataFrame:
    """Every revision of one review, one row per revision and item: what changed, when, by whom, why."""
    rows = [
        {
            "revision": review.revision,
            "scored_at": review.scored_at,
            "edited_by": review.edited_by or review.auditor,
            "edit_reason": review.edit_reason,
            "item_id": rating.item_id,
            "rating": rating.rating,
            "comment": rating.comment,
        }
        for review in load_reviews(bind, review_ids=[review_id])
        for rating in review.ratings
    ]
    schema: dict[str, pl.DataType] = {
        "revision": pl.Int64(),
        "scored_at": pl.Datetime("us", "UTC"),
        "edited_by": pl.String(),
        "edit_reason": pl.String(),
        "item_id": pl.String(),
        "rating": pl.Int64(),
        "comment": pl.String(),
    }
    return pl.DataFrame(rows, schema=schema)


# --- automatic check results ---------------------------------------------------------------------------


def save_check_results(conn: sa.Connection, results: pl.DataFrame, checked_at: datetime) -> int:
    """Store ``audits.checks.run_checks`` output; each (interaction, check) keeps its latest result."""
    if results.is_empty():
        return 0
    frame = results.select(list(RESULT_SCHEMA)).rename({"check": "check_name"})
    frame = frame.with_columns(
        checked_at=pl.lit(_utc(checked_at, "check results")).cast(pl.Datetime("us", "UTC"))
    )
    db = to_db_frame(frame, conn)
    cols = db.columns
    ph = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c not in ("interaction_id", "check_name"))
    sql = (
        f"INSERT INTO audit_check_results ({', '.join(cols)}) VALUES ({', '.join([ph] * len(cols))}) "
        f"ON CONFLICT (interaction_id, check_name) DO UPDATE SET {updates}"
    )
    for start in range(0, db.height, WRITE_CHUNK):
        conn.exec_driver_sql(sql, list(db.slice(start, WRITE_CHUNK).iter_rows()))
    return db.height


def read_check_results(bind: sa.Engine | sa.Connection) -> pl.DataFrame:
    """Every stored check result in ``audits.checks.RESULT_SCHEMA`` plus ``checked_at``."""
    names = ["check_name" if c == "check" else c for c in CHECK_RESULT_SCHEMA]
    sql = f"SELECT {', '.join(names)} FROM audit_check_results ORDER BY interaction_id, check_name"
    with connection_for(bind) as conn:
        return read_frame(conn, sql, (), CHECK_RESULT_SCHEMA)
