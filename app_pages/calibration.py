"""Calibration: several auditors blind-score the same interactions, then see how far they agree.

Each auditor sees only their own scores while scoring. The results give Krippendorff's alpha per item and
overall, flag items below the threshold (0.667 by default) and show each auditor's deviation from the
consensus, so the team knows which items to discuss.
"""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import streamlit as st

from app_pages import _data
from app_pages._audit_widgets import interaction_facts as show_facts
from app_pages._audit_widgets import md_escape, scoring_form, timeline, transcript, who_am_i
from app_pages._empty import show_no_data
from audits.calibration import calibrate
from audits.scoring import ItemRating, Review, ReviewError
from servicelens.commands.calibration import pick_calibration_interactions
from servicelens.config import ServicelensConfig
from storage import audit_repo, calibration_repo
from storage.calibration_repo import CalibrationSession

MODES = ("Score blind", "Results")


def create_session(url: str, config: ServicelensConfig, people: list[str]) -> None:
    with st.form("new_calibration"):
        name = st.text_input("Session name", placeholder="e.g. March calibration", key="cal_name")
        auditors = st.multiselect(
            "Auditors (two or more)", people, key="cal_auditors", accept_new_options=True
        )
        count = st.number_input(
            "Interactions everyone scores", min_value=1, max_value=100, value=10, key="cal_count"
        )
        seed = st.number_input("Seed of the random choice", value=1, step=1, key="cal_seed")
        created = st.form_submit_button("Create session", key="cal_submit")
    if not created:
        return
    if not name.strip():
        st.error("Give the session a name.")
        return
    engine = _data.engine_for(url)
    now = datetime.now(UTC)
    card = config.audits.current_scorecard()
    session = CalibrationSession(
        session_id=audit_repo.new_id("cal"),
        name=name.strip(),
        created_at=now,
        created_by=st.session_state.get("audit_me") or "dashboard",
        scorecard_id=card.id,
        scorecard_version=card.version,
        auditors=tuple(auditors),
        interaction_ids=tuple(pick_calibration_interactions(engine, int(count), int(seed), None, now)),
    )
    try:
        with engine.begin() as conn:
            calibration_repo.create_calibration_session(conn, session)
    except audit_repo.AuditStoreError as exc:
        st.error(f"Not created: {md_escape(str(exc))}")
        return
    _data.clear_audit_data()
    st.session_state["cal_session"] = session.session_id
    st.rerun()


def _my_previous(
    scores: pl.DataFrame, session: CalibrationSession, me: str, interaction_id: str
) -> Review | None:
    mine = scores.filter((pl.col("auditor") == me) & (pl.col("interaction_id") == interaction_id))
    if mine.is_empty():
        return None
    return Review(
        review_id=f"{session.session_id}/{me}/{interaction_id}",
        interaction_id=interaction_id,
        auditor=me,
        scorecard_id=session.scorecard_id,
        scorecard_version=session.scorecard_version,
        ratings=tuple(ItemRating(i, r) for i, r in zip(mine["item_id"], mine["rating"], strict=True)),
        scored_at=mine["scored_at"].max(),  # type: ignore[arg-type]
    )


def score_blind(
    url: str, config: ServicelensConfig, session: CalibrationSession, scores: pl.DataFrame
) -> None:
    me = who_am_i(session.auditors)
    if me is None:
        st.info("Choose your name to score.")
        return
    if me not in session.auditors:
        st.warning(
            f"{md_escape(me)} is not in this session; its auditors are {md_escape(', '.join(session.auditors))}."
        )
        return
    done = set(scores.filter(pl.col("auditor") == me)["interaction_id"].to_list())
    total = len(session.interaction_ids)
    st.progress(
        len(done) / total, text=f"You scored {len(done)} of {total}. Other auditors' scores stay hidden."
    )
    pick_key = f"cal_pick:{session.session_id}"
    next_open = [i for i in session.interaction_ids if i not in done]
    if st.session_state.pop("cal_next", False) and next_open:
        st.session_state[pick_key] = next_open[0]
    pick = st.selectbox(
        "Interaction",
        session.interaction_ids,
        key=pick_key,
        format_func=lambda i: f"{'✓ done' if i in done else '• to do'} · {i}",
    )
    card = config.audits.scorecard(session.scorecard_id, session.scorecard_version)
    left, right = st.columns([3, 2], gap="large")
    with left:
        events = _data.interaction_events(url, pick)
        rows = _data.interactions(url).filter(pl.col("interaction_id") == pick)
        show_facts(rows.row(0, named=True) if rows.height else {"interaction_id": pick})
        transcript(events)
        with st.expander("Timeline"):
            timeline(events)
    with right:
        previous = _my_previous(scores, session, me, pick)
        submitted = scoring_form(
            card,
            f"cal:{session.session_id}:{me}:{pick}",
            previous,
            ask_reason=False,
            submit_label="Save my scores",
        )
    if submitted is None:
        return
    try:
        with _data.engine_for(url).begin() as conn:
            calibration_repo.save_calibration_scores(
                conn,
                session,
                card,
                auditor=me,
                interaction_id=pick,
                ratings=submitted.ratings,
                scored_at=datetime.now(UTC),
            )
    except (ReviewError, audit_repo.AuditStoreError) as exc:
        st.error(f"Not saved: {md_escape(str(exc))}")
        return
    _data.clear_audit_data()
    st.session_state["cal_next"] = True
    st.rerun()


def results(config: ServicelensConfig, session: CalibrationSession, scores: pl.DataFrame) -> None:
    card = config.audits.scorecard(session.scorecard_id, session.scorecard_version)
    threshold = config.audits.calibration_alpha_threshold
    progress = pl.DataFrame({"auditor": list(session.auditors)}).join(
        scores.group_by("auditor").agg(pl.col("interaction_id").n_unique().alias("scored")),
        on="auditor",
        how="left",
        maintain_order="left",
    )
    st.dataframe(
        progress.with_columns(pl.col("scored").fill_null(0), of=pl.lit(len(session.interaction_ids))),
        hide_index=True,
    )
    if scores["auditor"].n_unique() < 2:
        st.info("Results appear once at least two auditors have scored.")
        return
    report = calibrate(scores.select("interaction_id", "auditor", "item_id", "normalised"), card, threshold)
    overall = "undefined" if report.overall_alpha is None else f"{report.overall_alpha:.3f}"
    st.metric(
        "Overall Krippendorff's alpha", overall, help="Interval alpha over every item, on 0..1 ratings."
    )
    if report.overall_note:
        st.caption(report.overall_note)
    flagged = report.items.filter(pl.col("flagged"))["item_id"].to_list()
    if flagged:
        st.warning(
            f"{len(flagged)} item(s) below alpha {threshold:g}: discuss them with the team: "
            + md_escape(", ".join(flagged))
        )
    st.subheader("Agreement per item")
    st.dataframe(
        report.items.with_columns(
            pl.col("alpha").round(3),
            pl.when(pl.col("flagged")).then(pl.lit("⚠")).otherwise(pl.lit("")).alias("flag"),
        ),
        hide_index=True,
        width="stretch",
    )
    st.subheader("Auditors against the consensus")
    st.caption("Consensus = median of all auditors on each item rated by two or more; + means more lenient.")
    st.dataframe(report.auditors, hide_index=True, width="stretch")


def render() -> None:
    st.title("Calibration")
    url = _data.database_url()
    if _data.interactions(url).is_empty():
        show_no_data()
        return
    config = _data.config()
    sessions = _data.calibration_sessions(url)
    reviews, _ = _data.audit_reviews(url)
    people = sorted(
        set(config.audits.sampling.auditors)
        | {r.auditor for r in reviews}
        | {a for s in sessions for a in s.auditors}
    )
    with st.expander("Create a calibration session", expanded=not sessions):
        create_session(url, config, people)
    if not sessions:
        return
    by_id = {s.session_id: s for s in sessions}
    chosen = st.selectbox(
        "Session",
        list(by_id),
        key="cal_session",
        format_func=lambda sid: (
            f"{by_id[sid].name} · {by_id[sid].created_at:%Y-%m-%d} · {len(by_id[sid].auditors)} auditors"
        ),
    )
    session = by_id[chosen]
    scores = _data.calibration_scores(
        url, session.session_id, session.scorecard_id, session.scorecard_version
    )
    mode = st.radio("View", MODES, horizontal=True, key="cal_mode")
    if mode == "Score blind":
        score_blind(url, config, session, scores)
    else:
        results(config, session, scores)


render()
