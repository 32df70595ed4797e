"""The audit workbench's storage, run on SQLite and on PostgreSQL: migrations, batches, reviews with every
revision, disputes decided once, calibration scores and check results."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from audits.checks import RESULT_SCHEMA
from audits.config import AuditsConfig, SamplingPlan
from audits.defaults import DEFAULT_SCORECARD
from audits.results import review_frames
from audits.sampling import create_batch, reassign
from audits.scoring import DisputeStatus, ItemRating, Review, decide_dispute, open_dispute, revise_review
from storage import audit_repo, calibration_repo
from storage.audit_repo import AuditStoreError
from storage.calibration_repo import CalibrationSession
from storage.db import alembic_config, make_engine, upgrade
from storage.repo import upsert_interactions
from tests.builders import interaction, interactions_frame

AT = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)
CARD = DEFAULT_SCORECARD
AUDIT_TABLES = {
    "audit_batches",
    "audit_batch_items",
    "audit_reassignments",
    "audit_reviews",
    "audit_review_revisions",
    "audit_item_ratings",
    "audit_disputes",
    "calibration_sessions",
    "calibration_auditors",
    "calibration_interactions",
    "calibration_scores",
    "audit_check_results",
}


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    eng = make_engine(db_url)
    upgrade(eng)
    rows = [
        interaction(str(i), agent=f"agent{i % 3}", team=("Billing" if i % 2 else "Orders")) for i in range(12)
    ]
    with eng.begin() as conn:
        upsert_interactions(conn, interactions_frame(rows))
    yield eng
    eng.dispose()


def all_pass(**overrides: int | None) -> tuple[ItemRating, ...]:
    return tuple(
        ItemRating(item.id, overrides.get(item.id, item.scale.high), f"note on {item.id}")
        for item in CARD.items
    )


def first_review(interaction_id: str = "generic:1", auditor: str = "ines", **overrides: int | None) -> Review:
    return Review(
        review_id=audit_repo.new_id("rv"),
        interaction_id=interaction_id,
        auditor=auditor,
        scorecard_id=CARD.id,
        scorecard_version=CARD.version,
        ratings=all_pass(**overrides),
        scored_at=AT,
        comment="first pass",
    )


def test_migration_creates_the_audit_tables_and_is_repeatable(engine: sa.Engine) -> None:
    upgrade(engine)
    assert set(sa.inspect(engine).get_table_names()) >= AUDIT_TABLES
    with engine.connect() as conn:
        heads = tuple(conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars())
    # A later core revision depends on the audits branch, so its head may stand for it: walk the heads.
    revisions = ScriptDirectory.from_config(alembic_config(engine)).revision_map
    applied = revisions.iterate_revisions(heads, "base", select_for_downgrade=True)
    assert "0002_audits" in {revision.revision for revision in applied}


def test_review_revisions_are_all_kept_and_the_latest_counts(engine: sa.Engine) -> None:
    original = first_review(greeting=0)
    with engine.begin() as conn:
        audit_repo.save_review(conn, original, CARD)
    edited = revise_review(
        original,
        all_pass(),
        edited_by="ines",
        edited_at=AT + timedelta(hours=1),
        reason="missed the greeting in the second line",
        scorecard=CARD,
    )
    with engine.begin() as conn:
        audit_repo.save_review(conn, edited, CARD)
    stored = audit_repo.load_reviews(engine)
    assert [r.revision for r in stored] == [1, 2]
    assert stored[0] == original
    assert stored[1] == edited
    assert stored[1].rating_for("greeting") == ItemRating("greeting", 1, "note on greeting")
    assert audit_repo.load_reviews(engine, latest_only=True) == [edited]
    history = audit_repo.review_history(engine, original.review_id)
    greeting = history.filter(pl.col("item_id") == "greeting").sort("revision")
    assert greeting["rating"].to_list() == [0, 1]
    assert greeting["edit_reason"].to_list() == ["", "missed the greeting in the second line"]
    frames = review_frames(stored, AuditsConfig().scorecard)
    assert frames.scores["revision"].to_list() == [2]
    assert frames.scores["score"].to_list() == [pytest.approx(1.0)]


def test_conflicting_revisions_and_second_reviews_are_refused(engine: sa.Engine) -> None:
    original = first_review()
    with engine.begin() as conn:
        audit_repo.save_review(conn, original, CARD)
    with pytest.raises(AuditStoreError, match="already reviewed generic:1"), engine.begin() as conn:
        audit_repo.save_review(conn, first_review(), CARD)
    stale = replace(original, revision=3, edited_by="jon", edit_reason="x", scored_at=AT + timedelta(hours=2))
    with pytest.raises(AuditStoreError, match="revision 1 was saved meanwhile"), engine.begin() as conn:
        audit_repo.save_review(conn, stale, CARD)
    incomplete = replace(first_review(interaction_id="generic:2"), ratings=all_pass()[:-1])
    with pytest.raises(ValueError, match="not rated: thanks_at_close"), engine.begin() as conn:
        audit_repo.save_review(conn, incomplete, CARD)
    assert len(audit_repo.load_reviews(engine)) == 1


def test_dispute_changes_the_score_only_when_accepted_and_is_decided_once(engine: sa.Engine) -> None:
    review = first_review()
    with engine.begin() as conn:
        audit_repo.save_review(conn, review, CARD)
    raised = [
        open_dispute(
            review,
            CARD,
            dispute_id=audit_repo.new_id("dp"),
            item_id=item,
            raised_by="manager mo",
            raised_at=AT + timedelta(days=1),
            comment=f"the agent did not {item}",
            proposed_rating=0,
        )
        for item in ("greeting", "thanks_at_close")
    ]
    with engine.begin() as conn:
        for dispute in raised:
            audit_repo.save_dispute(conn, dispute)
    before = review_frames([review], AuditsConfig().scorecard, audit_repo.load_disputes(engine))
    assert before.scores["score"][0] == pytest.approx(1.0)

    accepted = decide_dispute(
        raised[0], accept=True, decided_by="arbiter ana", decided_at=AT + timedelta(days=2)
    )
    rejected = decide_dispute(
        raised[1], accept=False, decided_by="arbiter ana", decided_at=AT + timedelta(days=2)
    )
    with engine.begin() as conn:
        audit_repo.record_decision(conn, accepted)
        audit_repo.record_decision(conn, rejected)
    stored = {d.item_id: d for d in audit_repo.load_disputes(engine)}
    assert stored["greeting"] == accepted
    assert stored["thanks_at_close"].status is DisputeStatus.REJECTED
    after = review_frames([review], AuditsConfig().scorecard, list(stored.values()))
    ratings = dict(zip(after.items["item_id"], after.items["rating"], strict=True))
    assert ratings["greeting"] == 0
    assert ratings["thanks_at_close"] == 1
    assert after.scores["score"][0] < 1.0
    assert audit_repo.load_disputes(engine, status="open") == []
    twice = replace(accepted, status=DisputeStatus.REJECTED, decided_by="someone else")
    with pytest.raises(AuditStoreError, match="already decided"), engine.begin() as conn:
        audit_repo.record_decision(conn, twice)


def test_batches_queue_and_logged_reassignment(engine: sa.Engine) -> None:
    from storage.repo import read_interactions

    plan = SamplingPlan(strata=["team"], per_stratum=2, targeted=[], auditors=["ines", "jon"], seed=3)
    batch = create_batch(read_interactions(engine), plan, AT)
    with engine.begin() as conn:
        batch_id = audit_repo.save_batch(conn, batch, created_by="lead", plan=plan)
    items = audit_repo.read_batch_items(engine)
    assert items.height == 4
    assert items["batch_id"].unique().to_list() == [batch_id]
    assert sorted(audit_repo.sampled_interaction_ids(engine)) == sorted(
        batch.sample["interaction_id"].to_list()
    )
    assert audit_repo.open_load(engine) == {"ines": 2, "jon": 2}

    moved = items.filter(pl.col("auditor") == "ines")["interaction_id"][0]
    changed = reassign(batch, moved, "jon", reason="ines is on leave", by="lead", at=AT + timedelta(hours=1))
    with engine.begin() as conn:
        audit_repo.record_reassignment(conn, batch_id, changed.reassignments[-1])
    assert audit_repo.open_load(engine) == {"ines": 1, "jon": 3}
    log = audit_repo.read_reassignments(engine)
    assert log.select("interaction_id", "from_auditor", "to_auditor", "reason").row(0) == (
        moved,
        "ines",
        "jon",
        "ines is on leave",
    )
    with pytest.raises(AuditStoreError, match="not assigned to ines"), engine.begin() as conn:
        audit_repo.record_reassignment(conn, batch_id, changed.reassignments[-1])

    with engine.begin() as conn:
        audit_repo.save_review(conn, first_review(moved, "jon"), CARD, batch_id=batch_id)
    queue = audit_repo.read_batch_items(engine, auditor="jon")
    assert queue.filter(pl.col("review_id").is_not_null())["interaction_id"].to_list() == [moved]
    assert audit_repo.open_load(engine) == {"ines": 1, "jon": 2}


def test_calibration_scores_are_blind_per_auditor_and_replaceable(engine: sa.Engine) -> None:
    session = CalibrationSession(
        session_id=audit_repo.new_id("cal"),
        name="March calibration",
        created_at=AT,
        created_by="lead",
        scorecard_id=CARD.id,
        scorecard_version=CARD.version,
        auditors=("ines", "jon", "kim"),
        interaction_ids=("generic:3", "generic:1"),
    )
    with engine.begin() as conn:
        calibration_repo.create_calibration_session(conn, session)
    assert calibration_repo.read_calibration_sessions(engine) == [session]
    with engine.begin() as conn:
        calibration_repo.save_calibration_scores(
            conn, session, CARD, auditor="ines", interaction_id="generic:1", ratings=all_pass(), scored_at=AT
        )
        calibration_repo.save_calibration_scores(
            conn,
            session,
            CARD,
            auditor="ines",
            interaction_id="generic:1",
            ratings=all_pass(greeting=0),
            scored_at=AT + timedelta(minutes=5),
        )
    scores = calibration_repo.read_calibration_scores(engine, session.session_id, CARD)
    assert scores.height == len(CARD.items)
    assert scores.filter(pl.col("item_id") == "greeting")["normalised"].to_list() == [0.0]
    with pytest.raises(AuditStoreError, match="zed is not one of its auditors"), engine.begin() as conn:
        calibration_repo.save_calibration_scores(
            conn, session, CARD, auditor="zed", interaction_id="generic:1", ratings=all_pass(), scored_at=AT
        )
    with pytest.raises(AuditStoreError, match="at least two different auditors"), engine.begin() as conn:
        calibration_repo.create_calibration_session(
            conn, replace(session, session_id="other", auditors=("ines", "ines"))
        )


def test_check_results_round_trip_and_keep_the_latest(engine: sa.Engine) -> None:
    results = pl.DataFrame(
        {
            "interaction_id": ["generic:1", "generic:2"],
            "check": ["greeting", "greeting"],
            "item": ["greeting", "greeting"],
            "outcome": ["pass", "fail"],
            "value": [1, 0],
            "target": ["a greeting in the first agent message"] * 2,
            "evidence": ["Hi Amelia,", None],
            "message_index": [0, None],
            "diagnostics": ["searched the first agent message"] * 2,
        },
        schema=RESULT_SCHEMA,
    )
    with engine.begin() as conn:
        assert audit_repo.save_check_results(conn, results, AT) == 2
        again = results.with_columns(outcome=pl.lit("pass"))
        audit_repo.save_check_results(conn, again, AT + timedelta(days=1))
    stored = audit_repo.read_check_results(engine)
    assert stored.drop("checked_at").schema == pl.Schema(RESULT_SCHEMA)
    assert stored["outcome"].to_list() == ["pass", "pass"]
    assert stored["checked_at"].to_list() == [AT + timedelta(days=1)] * 2
    assert stored.drop("checked_at", "outcome").equals(results.drop("outcome"))


def test_naive_timestamps_are_refused(engine: sa.Engine) -> None:
    naive = replace(first_review(), scored_at=datetime(2026, 3, 10, 14, 0))
    with pytest.raises(AuditStoreError, match="has no time zone"), engine.begin() as conn:
        audit_repo.save_review(conn, naive, CARD)
