"""Audit queue: auditors work through their sampled interactions, managers dispute, arbitrators decide,
and the lead follows the team's progress and replaces auditors.

An auditor reads the transcript (plain text, never rendered) and the timeline, scores every item of the
current scorecard with optional comments, and saves; the next open interaction comes up at once. Saving
an already scored interaction adds a revision with a reason; older revisions stay visible. A manager
disputes one item of a review with a comment and a proposed rating; an arbitrator (not the person who
raised it) accepts or rejects it, and only an accepted dispute changes the score. A lead gives open
interactions to another auditor with a required reason; every move is in the reassignment log, and a
reviewed interaction stays with its auditor.
"""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import streamlit as st

from app_pages import _data, _format
from app_pages._audit_widgets import (
    FLASH_KEY,
    batch_creator,
    md_escape,
    rating_label,
    rating_options,
    reassign_form,
    reassignment_table,
    scoring_form,
    show_flash,
    team_progress,
    timeline,
    transcript,
    who_am_i,
)
from app_pages._audit_widgets import interaction_facts as show_facts
from app_pages._empty import show_no_data
from audits.config import Scorecard
from audits.results import review_frames
from audits.scoring import (
    Dispute,
    DisputeStatus,
    Review,
    ReviewError,
    current_revisions,
    decide_dispute,
    open_dispute,
    revise_review,
)
from servicelens.config import ServicelensConfig
from storage import audit_repo

ROLES = ("Auditor", "Manager", "Arbitrator", "Lead")
PICK_KEY = "queue_pick"
NEXT_KEY = "queue_next"  # set after a save: the interaction to open on the next run


def _facts(url: str, interaction_id: str) -> dict[str, object]:
    rows = _data.interactions(url).filter(pl.col("interaction_id") == interaction_id)
    return rows.row(0, named=True) if rows.height else {"interaction_id": interaction_id}


def _read_interaction(url: str, interaction_id: str) -> None:
    events = _data.interaction_events(url, interaction_id)
    show_facts(_facts(url, interaction_id))
    transcript(events)
    with st.expander("Timeline (status changes, assignments, internal notes)"):
        timeline(events)


def _latest_reviews(url: str) -> dict[tuple[str, str], Review]:
    reviews, _ = _data.audit_reviews(url)
    return {(r.interaction_id, r.auditor): r for r in current_revisions(reviews)}


def _queue_table(url: str, queue: pl.DataFrame, config: ServicelensConfig) -> pl.DataFrame:
    """The auditor's queue: open work first; *disputed* means a manager challenges the review."""
    reviews, disputes = _data.audit_reviews(url)
    mine = set(queue["review_id"].drop_nulls().to_list())  # scoring only these keeps reruns fast
    scores = review_frames(
        [r for r in reviews if r.review_id in mine], config.audits.scorecard, disputes
    ).scores.select("review_id", "score")
    disputed = [d.review_id for d in disputes if d.status is DisputeStatus.OPEN and d.review_id in mine]
    facts = _data.interactions(url).select(
        "interaction_id", "location", "team", "agent", "channel", "created_at"
    )
    return (
        queue.join(facts, on="interaction_id", how="left", maintain_order="left")
        .join(scores, on="review_id", how="left", maintain_order="left")
        .select(
            pl.when(pl.col("review_id").is_null())
            .then(pl.lit("to do"))
            .when(pl.col("review_id").is_in(disputed))
            .then(pl.lit("disputed"))
            .otherwise(pl.lit("done"))
            .alias("state"),
            "interaction_id",
            "score",
            pl.col("reason").alias("picked by"),
            "location",
            "team",
            "agent",
            "channel",
            "created_at",
            "batch_id",
        )
        .sort(pl.col("state") != "to do", "batch_id")
    )


def _save_review(url: str, config: ServicelensConfig, me: str, interaction_id: str, batch_id: int) -> None:
    card = config.audits.current_scorecard()
    existing = _latest_reviews(url).get((interaction_id, me))
    if existing is not None and (existing.scorecard_id, existing.scorecard_version) != (
        card.id,
        card.version,
    ):
        card = config.audits.scorecard(existing.scorecard_id, existing.scorecard_version)
    key = f"review:{interaction_id}:{existing.revision if existing else 0}"
    submitted = scoring_form(
        card,
        key,
        existing,
        ask_reason=existing is not None,
        submit_label="Save changes" if existing else "Save review",
    )
    if existing is not None:
        history = _data.review_history(url, existing.review_id)
        with st.expander(f"History: {existing.revision} revision(s)"):
            st.dataframe(history, hide_index=True, width="stretch")
    if submitted is None:
        return
    now = datetime.now(UTC)
    try:
        if existing is None:
            review = Review(
                review_id=audit_repo.new_id("rv"),
                interaction_id=interaction_id,
                auditor=me,
                scorecard_id=card.id,
                scorecard_version=card.version,
                ratings=submitted.ratings,
                scored_at=now,
                comment=submitted.comment,
            )
        else:
            review = revise_review(
                existing,
                submitted.ratings,
                edited_by=me,
                edited_at=max(now, existing.scored_at),
                reason=submitted.reason,
                scorecard=card,
                comment=submitted.comment,
            )
        with _data.engine_for(url).begin() as conn:
            audit_repo.save_review(conn, review, card, batch_id=batch_id)
    except (ReviewError, audit_repo.AuditStoreError) as exc:
        st.error(f"Not saved: {md_escape(str(exc))}")
        return
    _data.clear_audit_data()
    st.session_state[NEXT_KEY] = interaction_id
    st.toast(f"Saved revision {review.revision} of {interaction_id}", icon=":material/check:")
    st.rerun()


def auditor_view(url: str, config: ServicelensConfig, me: str) -> None:
    queue = _data.audit_batch_items(url).filter(pl.col("auditor") == me)
    if queue.is_empty():
        st.info(f"Nothing is assigned to {md_escape(me)} yet. Create a sample batch below.")
        return
    table = _queue_table(url, queue, config)
    todo = table.filter(pl.col("state") == "to do")["interaction_id"].to_list()
    done = table.filter(pl.col("state") != "to do")["interaction_id"].to_list()
    st.progress(len(done) / table.height, text=f"{len(done)} of {table.height} done · {len(todo)} to do")
    with st.expander("My queue", expanded=False):
        st.dataframe(table, hide_index=True, width="stretch", height=260)
    show_done = st.toggle("Include interactions I already scored", key="queue_show_done")
    options = todo + (done if show_done else [])
    if not options:
        st.success("Your queue is done. Switch on the toggle above to revisit scored interactions.")
        return
    just_saved = st.session_state.pop(NEXT_KEY, None)
    if just_saved is not None or st.session_state.get(PICK_KEY) not in options:
        # After a save, open the next interaction still to do (or keep the edited one when none is left).
        following = [i for i in todo if i != just_saved]
        st.session_state[PICK_KEY] = (
            following[0] if following else (just_saved if just_saved in options else options[0])
        )
    batch_of = dict(zip(table["interaction_id"], table["batch_id"], strict=True))
    pick = st.selectbox(
        "Interaction",
        options,
        key=PICK_KEY,
        format_func=lambda iid: f"{'✓ done' if iid in done else '• to do'} · {iid}",
    )
    left, right = st.columns([3, 2], gap="large")
    with left:
        _read_interaction(url, pick)
    with right:
        st.subheader("Score")
        _save_review(url, config, me, pick, int(batch_of[pick]))


def _review_label(review: Review, scores: dict[str, float | None]) -> str:
    score = scores.get(review.review_id)
    return f"{review.interaction_id} · {review.auditor} · score {_format.percent(score)}"


def manager_view(url: str, config: ServicelensConfig, me: str) -> None:
    reviews, disputes = _data.audit_reviews(url)
    latest = sorted(current_revisions(reviews), key=lambda r: r.scored_at, reverse=True)
    if not latest:
        st.info("No reviews yet: disputes are raised on scored interactions.")
        return
    frames = review_frames(latest, config.audits.scorecard, disputes)
    scores = dict(zip(frames.scores["review_id"], frames.scores["score"], strict=True))
    by_id = {r.review_id: r for r in latest}
    chosen = st.selectbox(
        "Review", list(by_id), key="dispute_review", format_func=lambda rid: _review_label(by_id[rid], scores)
    )
    review = by_id[chosen]
    card = config.audits.scorecard(review.scorecard_id, review.scorecard_version)
    items = frames.items.filter(pl.col("review_id") == chosen)
    comments = {r.item_id: r.comment for r in review.ratings}
    mine = [d for d in disputes if d.review_id == chosen]
    status = {d.item_id: d.status.value for d in mine}
    st.dataframe(
        items.select(
            "category",
            "item_id",
            "rating",
            pl.col("item_id").replace_strict(comments, default="").alias("auditor comment"),
            pl.col("item_id").replace_strict(status, default="").alias("dispute"),
        ),
        hide_index=True,
        width="stretch",
    )
    with st.expander("Transcript"):
        _read_interaction(url, review.interaction_id)
    st.markdown("**Dispute an item**")
    item_id = st.selectbox(
        "Item", [i.id for i in card.items], format_func=lambda i: card.item(i).label, key="dispute_item"
    )
    item = card.item(item_id)
    with st.form(f"dispute:{chosen}:{item_id}"):
        proposed = st.selectbox(
            "Proposed rating",
            rating_options(item),
            format_func=lambda v: rating_label(item, v),
            key=f"dispute_rating:{item_id}",
        )
        comment = st.text_area("Why (required)", key="dispute_comment")
        sent = st.form_submit_button("Raise dispute", key="dispute_submit")
    if sent:
        _raise(url, review, card, me, item_id, proposed, comment)


def _raise(
    url: str, review: Review, card: Scorecard, me: str, item_id: str, proposed: object, comment: str
) -> None:
    try:
        dispute = open_dispute(
            review,
            card,
            dispute_id=audit_repo.new_id("dp"),
            item_id=item_id,
            raised_by=me,
            raised_at=datetime.now(UTC),
            comment=comment,
            proposed_rating=proposed if isinstance(proposed, int) else None,
        )
        with _data.engine_for(url).begin() as conn:
            audit_repo.save_dispute(conn, dispute)
    except (ReviewError, audit_repo.AuditStoreError) as exc:
        st.error(f"Dispute not raised: {md_escape(str(exc))}")
        return
    _data.clear_audit_data()
    # Shown after the rerun, so the table above already lists the new dispute.
    st.session_state[FLASH_KEY] = f"Dispute raised on {md_escape(item_id)}; an arbitrator will decide it."
    st.session_state.pop("dispute_comment", None)  # so the same dispute is not raised twice by accident
    st.rerun()


def arbitrator_view(url: str, config: ServicelensConfig, me: str) -> None:
    reviews, disputes = _data.audit_reviews(url)
    waiting = [d for d in disputes if d.status is DisputeStatus.OPEN]
    decided = [d for d in disputes if d.status is not DisputeStatus.OPEN]
    latest = current_revisions(reviews)
    interaction_of = {r.review_id: r.interaction_id for r in latest}
    if not waiting:
        st.info("No open disputes.")
    else:
        by_id = {d.dispute_id: d for d in waiting}
        chosen = st.selectbox(
            "Open dispute",
            list(by_id),
            key="arbitrate_pick",
            format_func=lambda d: (
                f"{interaction_of.get(by_id[d].review_id, '?')} · {by_id[d].item_id} · "
                f"raised by {by_id[d].raised_by} · {by_id[d].raised_at:%Y-%m-%d}"
            ),
        )
        _decide(url, config, me, by_id[chosen], latest)
    if decided:
        st.subheader("Decided")
        st.dataframe(
            pl.DataFrame(
                [
                    {
                        "interaction": interaction_of.get(d.review_id),
                        "item": d.item_id,
                        "proposed": d.proposed_rating,
                        "status": d.status.value,
                        "raised by": d.raised_by,
                        "decided by": d.decided_by,
                        "decided at": d.decided_at,
                        "decision": d.decision_comment,
                    }
                    for d in decided
                ]
            ),
            hide_index=True,
            width="stretch",
        )


def _decide(url: str, config: ServicelensConfig, me: str, dispute: Dispute, latest: list[Review]) -> None:
    review = next(r for r in latest if r.review_id == dispute.review_id)
    card = config.audits.scorecard(review.scorecard_id, review.scorecard_version)
    item = card.item(dispute.item_id)
    current = review.rating_for(item.id)
    st.text(
        f"{item.label}: rated {rating_label(item, current.rating if current else None)} by {review.auditor}; "
        f"{dispute.raised_by} proposes {rating_label(item, dispute.proposed_rating)}"
    )
    st.text(f"Reason given: {dispute.comment}")
    if current and current.comment:
        st.text(f"Auditor's comment: {current.comment}")
    with st.expander("Transcript"):
        _read_interaction(url, review.interaction_id)
    note = st.text_input("Decision comment", key=f"decision:{dispute.dispute_id}")
    accept, reject = st.columns(2)
    choice = None
    if accept.button("Accept (the score changes)", key=f"accept:{dispute.dispute_id}", type="primary"):
        choice = True
    if reject.button("Reject (the score stays)", key=f"reject:{dispute.dispute_id}"):
        choice = False
    if choice is None:
        return
    try:
        decided = decide_dispute(
            dispute, accept=choice, decided_by=me, decided_at=datetime.now(UTC), comment=note
        )
        with _data.engine_for(url).begin() as conn:
            audit_repo.record_decision(conn, decided)
    except (ReviewError, audit_repo.AuditStoreError) as exc:
        st.error(f"Not decided: {md_escape(str(exc))}")
        return
    _data.clear_audit_data()
    st.toast(f"Dispute {decided.status.value}", icon=":material/gavel:")
    st.rerun()


def lead_view(url: str, me: str, people: list[str]) -> None:
    items = _data.audit_batch_items(url)
    if items.is_empty():
        st.info("No batch yet. Create a sample batch below.")
        return
    st.subheader("Team progress")
    team_progress(items)
    st.subheader("Replace an auditor")
    reassign_form(url, me, items, people)
    reassignment_table(url)


def render() -> None:
    st.title("Audit queue")
    url = _data.database_url()
    if _data.interactions(url).is_empty():
        show_no_data()
        return
    config = _data.config()
    reviews, disputes = _data.audit_reviews(url)
    people = set(_data.audit_batch_items(url)["auditor"].to_list()) | set(config.audits.sampling.auditors)
    people |= {r.auditor for r in reviews} | {d.raised_by for d in disputes}
    me = who_am_i(sorted(people))
    if me is None:
        st.info("Choose your name to see your queue.")
        return
    role = st.radio("Work as", ROLES, horizontal=True, key="audit_role")
    show_flash()
    if role == "Auditor":
        auditor_view(url, config, me)
    elif role == "Manager":
        manager_view(url, config, me)
    elif role == "Arbitrator":
        arbitrator_view(url, config, me)
    else:
        lead_view(url, me, sorted(people))
    st.divider()
    batch_creator(url, config, me, sorted(people))


render()
