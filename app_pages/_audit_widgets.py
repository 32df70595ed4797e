"""Pieces of the audit pages: who is working, the transcript view, the scoring form, and the lead's tools
(creating a sample batch, replacing the auditor of open interactions, the reassignment log).

Text from the helpdesk (message bodies, names, subjects) is untrusted: it is shown with ``st.text`` or in
data tables, never rendered as Markdown or HTML. Names typed by users go through :func:`md_escape` before
they appear in Markdown-rendered messages.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import polars as pl
import streamlit as st

from app_pages import _data
from audits.config import Scale, Scorecard, ScorecardItem
from audits.sampling import SamplingError
from audits.scoring import ItemRating, Review
from servicelens.commands.audit import (
    ReassignmentRefused,
    precision_lines,
    reassign_batch_items,
    sample_batch,
)
from servicelens.config import ServicelensConfig
from servicelens.model import EventType
from storage import audit_repo

ME_KEY = "audit_me"
FLASH_KEY = "audit_flash"  # a success message shown once, on the run after a write
ME_PARAM = "me"
NOT_APPLICABLE = "N/A"
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")
SPEAKERS = {
    EventType.CUSTOMER_MESSAGE.value: ("Customer", ":material/person:"),
    EventType.AGENT_REPLY.value: ("Agent", ":material/support_agent:"),
}


def md_escape(text: str) -> str:
    """Text safe to place inside Markdown: every formatting character is backslash-escaped."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def who_am_i(people: Sequence[str], label: str = "I am") -> str | None:
    """Pick (or type) your name; remembered in the URL (``?me=``) so a bookmark opens your own work."""
    if ME_KEY not in st.session_state and st.query_params.get(ME_PARAM):
        st.session_state[ME_KEY] = st.query_params[ME_PARAM]
    # A typed-in name stays among the options, so it survives the next run.
    options = sorted(set(people) | ({st.session_state[ME_KEY]} if st.session_state.get(ME_KEY) else set()))
    me = st.selectbox(
        label,
        options,
        index=None,
        key=ME_KEY,
        placeholder="Choose or type your name",
        accept_new_options=True,
    )
    if me and st.query_params.get(ME_PARAM) != me:
        st.query_params[ME_PARAM] = me
    return me or None


def interaction_facts(row: dict[str, object]) -> None:
    """The facts an auditor needs beside the transcript, as a one-row table (never rendered as Markdown)."""
    columns = [
        "interaction_id",
        "location",
        "team",
        "agent",
        "channel",
        "priority",
        "status",
        "created_at",
        "csat",
    ]
    st.dataframe(
        pl.DataFrame([{c: row.get(c) for c in columns}]),
        hide_index=True,
        width="stretch",
        column_config={
            "created_at": st.column_config.DatetimeColumn("created (UTC)", format="YYYY-MM-DD HH:mm")
        },
    )
    if row.get("subject"):
        st.text(f"Subject: {row['subject']}")


def transcript(events: pl.DataFrame) -> None:
    """Customer and agent messages in time order, each body shown as plain, escaped text."""
    messages = events.filter(pl.col("type").is_in(list(SPEAKERS))).sort("at")
    if messages.is_empty():
        st.info("This interaction has no customer or agent messages.")
    for row in messages.iter_rows(named=True):
        role, avatar = SPEAKERS[row["type"]]
        with st.chat_message(role.lower(), avatar=avatar):
            st.text(f"{role} · {row['author'] or 'unknown'} · {row['at']:%Y-%m-%d %H:%M} UTC")
            st.text(row["body"] or "(empty message)")


def timeline(events: pl.DataFrame) -> None:
    """Every event, status changes and internal notes included, as a table."""
    st.dataframe(
        events.sort("at").select("at", "type", "status", "author", "body"),
        hide_index=True,
        width="stretch",
        column_config={"at": st.column_config.DatetimeColumn("at (UTC)", format="YYYY-MM-DD HH:mm")},
    )


def rating_options(item: ScorecardItem) -> list[int | str]:
    values: list[int | str] = list(range(item.scale.low, item.scale.high + 1))
    if item.scale is Scale.BINARY:
        values = [1, 0]
    return [*values, NOT_APPLICABLE] if item.allow_na else values


def rating_label(item: ScorecardItem, value: int | str | None) -> str:
    if value == NOT_APPLICABLE or value is None:
        return NOT_APPLICABLE
    if item.scale is Scale.BINARY:
        return "Yes" if value == 1 else "No"
    return f"{value} of {item.scale.high}"


@dataclass(frozen=True)
class ScoringInput:
    ratings: tuple[ItemRating, ...]
    comment: str
    reason: str  # why an existing review is being edited; empty for a first review


def scoring_form(
    scorecard: Scorecard, key: str, current: Review | None, *, ask_reason: bool, submit_label: str
) -> ScoringInput | None:
    """The scorecard as one form: a choice per item (none preselected on a new review) and an optional
    comment. Returns the input once submitted complete; names the unrated items otherwise."""
    with st.form(f"form:{key}", border=True):
        chosen: dict[str, int | str | None] = {}
        notes: dict[str, str] = {}
        for category in scorecard.categories:
            st.markdown(f"**{category.label}**")
            for item in category.items:
                options = rating_options(item)
                previous = current.rating_for(item.id) if current else None
                start = None
                if previous is not None:
                    start = options.index(NOT_APPLICABLE if previous.rating is None else previous.rating)
                left, right = st.columns([3, 2], vertical_alignment="bottom")
                label = item.label + (" (critical)" if item.critical else "")
                chosen[item.id] = left.radio(
                    label,
                    options,
                    index=start,
                    key=f"{key}:rate:{item.id}",
                    horizontal=True,
                    help=item.description or None,
                    format_func=lambda v, it=item: rating_label(it, v),
                )
                notes[item.id] = right.text_input(
                    f"Comment on {item.label}",
                    value=previous.comment if previous else "",
                    key=f"{key}:note:{item.id}",
                    placeholder="comment (optional)",
                    label_visibility="collapsed",
                )
        comment = st.text_area(
            "Overall comment", value=current.comment if current else "", key=f"{key}:comment"
        )
        reason = st.text_input("Reason for this edit (required)", key=f"{key}:reason") if ask_reason else ""
        submitted = st.form_submit_button(submit_label, type="primary", key=f"{key}:submit")
    if not submitted:
        return None
    missing = [item.label for item in scorecard.items if chosen[item.id] is None]
    if missing:
        st.error("Not saved: rate every item first. Still open: " + md_escape(", ".join(missing)))
        return None
    if ask_reason and not reason.strip():
        st.error("Not saved: an edit needs a reason (it is kept in the review's history).")
        return None
    ratings = tuple(
        ItemRating(
            item.id,
            None if chosen[item.id] == NOT_APPLICABLE else int(chosen[item.id]),  # type: ignore[arg-type]
            notes[item.id].strip(),
        )
        for item in scorecard.items
    )
    return ScoringInput(ratings, comment.strip(), reason.strip())


# --- the lead's tools ----------------------------------------------------------------------------------


def show_flash() -> None:
    """The message left by a write just before its rerun."""
    message = st.session_state.pop(FLASH_KEY, None)
    if message:
        st.success(message)


def team_progress(items: pl.DataFrame) -> None:
    """Open and done interactions per auditor, most open work first."""
    summary = (
        items.group_by("auditor")
        .agg(
            pl.col("review_id").is_null().sum().alias("to do"),
            pl.col("review_id").is_not_null().sum().alias("done"),
            pl.len().alias("assigned"),
        )
        .sort("to do", "auditor", descending=[True, False])
    )
    st.dataframe(summary, hide_index=True, width="stretch")


def reassign_form(url: str, me: str, items: pl.DataFrame, people: list[str]) -> None:
    """Replace the auditor of one or several open interactions: a new auditor and a reason are required."""
    open_items = items.filter(pl.col("review_id").is_null())
    holders = sorted(set(open_items["auditor"].to_list()))
    if not holders:
        st.info("Every sampled interaction is reviewed: nothing left to reassign.")
        return
    current = st.selectbox("Replace the auditor of interactions assigned to", holders, key="reassign_from")
    mine = open_items.filter(pl.col("auditor") == current)
    facts = _data.interactions(url).select("interaction_id", "location", "team", "agent")
    labels = {
        f"{row['batch_id']}/{row['interaction_id']}": (
            f"{row['interaction_id']} · {row['location']} · {row['team']} · batch {row['batch_id']}"
        )
        for row in mine.join(facts, on="interaction_id", how="left", maintain_order="left").iter_rows(
            named=True
        )
    }
    reviewed = items.filter((pl.col("auditor") == current) & pl.col("review_id").is_not_null()).height
    if reviewed:
        st.caption(
            f"{reviewed} interaction(s) {md_escape(current)} already reviewed are not listed: a review stays "
            "with its auditor (edit it, or dispute it as a manager)."
        )
    with st.form("reassign", clear_on_submit=False):
        chosen = st.multiselect(
            "Open interactions", list(labels), format_func=labels.__getitem__, key="reassign_items"
        )
        new_auditor = st.selectbox(
            "New auditor",
            [p for p in people if p != current],
            index=None,
            key="reassign_to",
            placeholder="Choose or type a name",
            accept_new_options=True,
        )
        reason = st.text_input("Reason (required, kept in the log)", key="reassign_reason")
        sent = st.form_submit_button("Replace auditor", key="reassign_submit")
    if not sent:
        return
    if not chosen:
        st.error("Nothing reassigned: choose at least one interaction.")
        return
    targets = [(int(ref.split("/", 1)[0]), ref.split("/", 1)[1]) for ref in chosen]
    try:
        moved = reassign_batch_items(
            _data.engine_for(url), targets, new_auditor or "", reason=reason, by=me, now=datetime.now(UTC)
        )
    except (ReassignmentRefused, audit_repo.AuditStoreError) as exc:
        st.error(f"Nothing reassigned: {md_escape(str(exc))}")
        return
    _data.clear_audit_data()
    st.session_state[FLASH_KEY] = (
        f"{len(moved)} interaction(s) moved from {md_escape(current)} to {md_escape(moved[0].to_auditor)}."
    )
    for key in ("reassign_items", "reassign_reason", "reassign_to"):
        st.session_state.pop(key, None)
    st.rerun()


def reassignment_table(url: str) -> None:
    """The reassignment log, newest first: who moved what, when, from whom, to whom and why."""
    log = _data.audit_reassignments(url)
    st.subheader("Reassignment log")
    if log.is_empty():
        st.caption("No auditor has been replaced yet.")
        return
    st.dataframe(
        log.sort("reassigned_at", descending=True).select(
            pl.col("reassigned_at").alias("when"),
            pl.col("reassigned_by").alias("by"),
            pl.col("interaction_id").alias("interaction"),
            pl.col("from_auditor").alias("from"),
            pl.col("to_auditor").alias("to"),
            pl.col("reason").alias("why"),
            pl.col("batch_id").alias("batch"),
        ),
        hide_index=True,
        width="stretch",
        column_config={"when": st.column_config.DatetimeColumn("when (UTC)", format="YYYY-MM-DD HH:mm")},
    )


def batch_creator(url: str, config: ServicelensConfig, me: str, people: list[str]) -> None:
    plan = config.audits.sampling
    with st.expander("Create a new sample batch"), st.form("new_batch"):
        st.caption(
            f"Strata: {', '.join(plan.strata)} · {plan.per_stratum} random per stratum plus targeted picks; "
            "interactions already sampled are left out."
        )
        seed = st.number_input("Seed", value=plan.seed, step=1, key="batch_seed")
        auditors = st.multiselect(
            "Auditors",
            sorted(set(people) | set(plan.auditors) | {me}),
            default=plan.auditors or None,
            key="batch_auditors",
            accept_new_options=True,
        )
        days = st.number_input(
            "Only interactions of the last N days (0 = all)", min_value=0, value=0, key="batch_days"
        )
        create = st.form_submit_button("Create batch", key="batch_submit")
    if not create:
        return
    try:
        result = sample_batch(
            _data.engine_for(url),
            config,
            now=datetime.now(UTC),
            seed=int(seed),
            auditors=list(auditors),
            days=int(days) or None,
            created_by=me,
        )
    except (SamplingError, audit_repo.AuditStoreError) as exc:
        st.error(f"No batch created: {md_escape(str(exc))}")
        return
    _data.clear_audit_data()
    st.success(f"Batch {result.batch_id}: {result.batch.sample.height} interactions assigned.")
    st.text("\n".join(precision_lines(result.precision, "stratum", config.audits.precision)))
