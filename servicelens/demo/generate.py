"""Builds the demo organisation's two canonical tables and writes them, chunk by chunk.

Interaction fields are derived from the same event times the transcript is built from, after cutting
everything at the end instant, so first_response_at, resolved_at, reopens and status always agree with
the event history. Events are built and written for a range of interactions at a time, so memory stays
flat however large the organisation is.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np
import polars as pl

from servicelens.demo import transcripts as tx
from servicelens.demo.clock import BoolArray, FloatArray, IntArray
from servicelens.demo.columns import RowColumns
from servicelens.demo.organisation import (
    AGENTS,
    CUSTOMER_FIRST_NAMES,
    CUSTOMER_LAST_NAMES,
    LOCATIONS,
    TEAM_SUBJECTS,
    TEAMS,
)
from servicelens.demo.timeline import (
    CHANNELS,
    PRIORITIES,
    WAIT_CUSTOMER,
    WAIT_NONE,
    WAIT_THIRD_PARTY,
    Timeline,
    draw_timeline,
)
from servicelens.model import EVENT_SCHEMA, INTERACTION_SCHEMA, UTC_DATETIME, EventType, Status

SYSTEM_AUTHOR = "system"
# Interactions built and written per step; part of the file layout, so fixed for byte-identical output.
CHUNK_INTERACTIONS = 50_000
_NEVER = np.iinfo(np.int64).max


def source_of_site() -> list[str]:
    """The ``source`` value of each site: one per helpdesk the site ran on, e.g. ``demo-zendesk``."""
    return [f"demo-{loc.helpdesk}" for loc in LOCATIONS]


def _utc(seconds: IntArray) -> pl.Series:
    return pl.Series(seconds * 1_000_000).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")


def _utc_or_null(seconds: IntArray, valid: BoolArray) -> pl.Series:
    return _utc(seconds).zip_with(pl.Series(valid), pl.Series([None], dtype=UTC_DATETIME))


def _seconds(t: FloatArray) -> IntArray:
    return np.floor(t).astype(np.int64)


@dataclass
class _Slot:
    """One possible event of every interaction; ``keep`` says which interactions have it (before the end)."""

    keep: BoolArray
    at: IntArray
    keep_column: pl.Expr
    at_column: pl.Expr
    type: EventType
    status: Status | pl.Expr | None
    author: str  # "agent", "customer" or "system"
    body: pl.Expr | None


def _external_ids(source_codes: IntArray) -> IntArray:
    """Ticket numbers counting up per source in creation order, as each helpdesk would number them."""
    ids = np.zeros(source_codes.size, dtype=np.int64)
    for code in np.unique(source_codes):
        mask = source_codes == code
        ids[mask] = 10_001 + np.arange(int(mask.sum()))
    return ids


@dataclass
class DemoPlan:
    """Everything drawn for one organisation; builds interactions and events for any range of rows.

    All drawing happens once, over all rows and in a fixed order, so the tables are identical whether they
    are built at once or chunk by chunk (see ``columns.py``).
    """

    interactions: pl.DataFrame
    rows: RowColumns
    base: dict[str, pl.Expr]
    slots: list[_Slot]

    @property
    def size(self) -> int:
        return self.interactions.height

    def chunk(self, start: int, length: int) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Interactions ``start`` to ``start + length`` and all of their events, in canonical types."""
        table = self.rows.frame(start, length).with_columns(**self.base).with_row_index("_row")
        frames = []
        for seq, slot in enumerate(self.slots):
            author = {"agent": pl.col("agent"), "customer": pl.col("customer")}.get(
                slot.author, pl.lit(SYSTEM_AUTHOR)
            )
            status = slot.status if isinstance(slot.status, pl.Expr) else pl.lit(slot.status, dtype=pl.String)
            body = slot.body if slot.body is not None else pl.lit(None, dtype=pl.String)
            frames.append(
                table.filter(slot.keep_column).select(
                    pl.col("interaction_id"),
                    slot.at_column.alias("at"),
                    pl.lit(slot.type.value).alias("type"),
                    status.cast(pl.String).alias("status"),
                    author.alias("author"),
                    body.alias("body"),
                    pl.lit(seq, dtype=pl.Int32).alias("_seq"),
                    pl.col("_row"),
                )
            )
        events = pl.concat(frames).sort("_row", "_seq").drop("_row", "_seq")
        return self.interactions.slice(start, length), events.cast(EVENT_SCHEMA)  # type: ignore[arg-type]

    def chunks(self, size: int = CHUNK_INTERACTIONS) -> Iterator[tuple[pl.DataFrame, pl.DataFrame]]:
        for start in range(0, self.size, size):
            yield self.chunk(start, size)


def plan_demo(tl: Timeline, seed: int) -> DemoPlan:
    """Draw the texts and event slots of a timeline and derive the interaction rows (see :class:`DemoPlan`)."""
    n = tl.created.size
    rows = RowColumns(np.random.default_rng([seed, 1]), n)
    cutoff = tl.cutoff
    created, first_reply = _seconds(tl.created), _seconds(tl.first_reply)
    wait_end, follow_up, note_at = _seconds(tl.wait_end), _seconds(tl.follow_up), _seconds(tl.note_at)
    solution, reopen_at = _seconds(tl.solution), _seconds(tl.reopen_at)
    resolve_again, closed = _seconds(tl.resolve_again), _seconds(tl.closed)
    p = tl.protocol

    sources = source_of_site()
    source_code = np.array([sources.index(s) for s in sources])[tl.site]  # first site of each source
    last_index = (tl.customer // len(CUSTOMER_FIRST_NAMES)) % len(CUSTOMER_LAST_NAMES)
    first = pl.lit(pl.Series(CUSTOMER_FIRST_NAMES)).gather(rows.add(tl.customer % len(CUSTOMER_FIRST_NAMES)))
    last = pl.lit(pl.Series(CUSTOMER_LAST_NAMES)).gather(rows.add(last_index))
    agent = pl.lit(pl.Series([a.name for a in AGENTS])).gather(rows.add(tl.agent))
    customer_number = rows.add(tl.customer).cast(pl.String)
    subjects = pl.Series([s for team in TEAM_SUBJECTS for s in team])
    base = {
        "interaction_id": pl.concat_str(
            [
                pl.lit(pl.Series(sources)).gather(rows.add(source_code)),
                pl.lit(":"),
                rows.add(_external_ids(source_code)).cast(pl.String),
            ]
        ),
        "first": first,
        "customer": pl.concat_str(
            [first, pl.lit("."), last, pl.lit("."), customer_number, pl.lit("@example.com")]
        ).str.to_lowercase(),
        "agent": agent,
        "agent_first": agent.str.split(" ").list.first(),
        "subject": pl.lit(subjects).gather(rows.add(tl.team * 3 + tl.subject)),
    }

    # The status after the first reply, and what the first reply says.
    after_first = np.where(
        tl.solved_first,
        0,
        np.where(tl.wait == WAIT_CUSTOMER, 1, np.where(tl.wait == WAIT_THIRD_PARTY, 2, 3)),
    )
    statuses = pl.Series([s.value for s in (Status.SOLVED, Status.PENDING, Status.ON_HOLD, Status.OPEN)])
    first_status = pl.lit(statuses).gather(rows.add(after_first))
    local_wait_end = pl.Series(_seconds(tl.wait_end + tl.utc_offset) * 1000).cast(pl.Datetime("ms"))
    promise_date = rows.add(local_wait_end.dt.strftime("%A %-d %B"))
    upset = (tl.priority <= PRIORITIES.index("high")) | (tl.team == TEAMS.index("Complaints"))
    always = np.ones(n, dtype=bool)
    not_first = ~tl.solved_first
    c_first, c_agent_first = pl.col("first"), pl.col("agent_first")

    def slot(
        present: BoolArray,
        at: IntArray,
        kind: EventType,
        status: Status | pl.Expr | None = None,
        author: str = "agent",
        body: pl.Expr | None = None,
    ) -> _Slot:
        keep = present & (at < cutoff)
        return _Slot(keep, at, rows.flag(keep), rows.add(_utc(at)), kind, status, author, body)

    slots = [
        slot(always, created, EventType.CUSTOMER_MESSAGE, author="customer",
             body=tx.customer_request(rows, pl.col("subject"), c_first, upset)),
        slot(always, created, EventType.STATUS_CHANGE, Status.NEW, author="system"),
        slot(always, created, EventType.ASSIGNMENT, author="system",
             body=pl.concat_str([pl.lit("Assigned to "), pl.col("agent")])),
        slot(always, first_reply, EventType.AGENT_REPLY, body=tx.join_lines(
            *tx.agent_opening(rows, c_first, p["greeting"], p["name"], p["empathy"], p["apology"]),
            *tx.first_reply_middle(rows, after_first, p["solution"], p["promise"], promise_date),
            *tx.sign_off(rows, c_agent_first, p["thanks"] & tl.solved_first),
        )),
        slot(always, first_reply, EventType.STATUS_CHANGE, first_status),
        slot(tl.note, note_at, EventType.INTERNAL_NOTE, body=tx.internal_note(rows)),
        slot(p["follow_through"], follow_up, EventType.AGENT_REPLY, body=tx.join_lines(
            *tx.agent_opening(rows, c_first, p["greeting"], p["name"]),
            tx.follow_up_text(rows), *tx.sign_off(rows, c_agent_first),
        )),
        slot(tl.wait == WAIT_CUSTOMER, wait_end, EventType.CUSTOMER_MESSAGE, author="customer",
             body=tx.customer_follow_up(rows, c_first, reopen=False)),
        slot(tl.wait != WAIT_NONE, wait_end, EventType.STATUS_CHANGE, Status.OPEN),
        slot(not_first, solution, EventType.AGENT_REPLY, body=tx.join_lines(
            *tx.agent_opening(rows, c_first, p["greeting"], p["name"]),
            tx.solution_line(rows, p["solution"]), *tx.sign_off(rows, c_agent_first, p["thanks"]),
        )),
        slot(not_first, solution, EventType.STATUS_CHANGE, Status.SOLVED),
        slot(tl.reopened, reopen_at, EventType.CUSTOMER_MESSAGE, author="customer",
             body=tx.customer_follow_up(rows, c_first, reopen=True)),
        slot(tl.reopened, reopen_at, EventType.STATUS_CHANGE, Status.OPEN, author="customer"),
        slot(tl.reopened, resolve_again, EventType.AGENT_REPLY, body=tx.join_lines(
            *tx.agent_opening(rows, c_first, p["greeting"], p["name"]),
            tx.reopen_reply(rows), *tx.sign_off(rows, c_agent_first, p["thanks"]),
        )),
        slot(tl.reopened, resolve_again, EventType.STATUS_CHANGE, Status.SOLVED),
        slot(always, closed, EventType.STATUS_CHANGE, Status.CLOSED, author="system"),
    ]  # fmt: skip

    updated = created.copy()
    for s in slots:
        updated = np.where(s.keep, np.maximum(updated, s.at), updated)
    names = rows.frame().select(**{k: base[k] for k in ("interaction_id", "customer", "agent", "subject")})
    external_id = pl.Series(_external_ids(source_code)).cast(pl.String)
    interactions = _interactions(tl, names, created, first_reply, solution, reopen_at, resolve_again, closed)
    interactions = interactions.with_columns(
        source=pl.lit(pl.Series(sources).gather(tl.site)),
        external_id=pl.lit(external_id),
        updated_at=pl.lit(_utc(updated)),
    )
    interactions = interactions.select(list(INTERACTION_SCHEMA)).cast(INTERACTION_SCHEMA)  # type: ignore[arg-type]
    return DemoPlan(interactions, rows, base, slots)


def build_frames(tl: Timeline, seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The two canonical tables for a drawn timeline, all rows at once."""
    plan = plan_demo(tl, seed)
    return plan.chunk(0, plan.size)


def _interactions(
    tl: Timeline,
    names: pl.DataFrame,
    created: IntArray,
    first_reply: IntArray,
    solution: IntArray,
    reopen_at: IntArray,
    resolve_again: IntArray,
    closed: IntArray,
) -> pl.DataFrame:
    cutoff = tl.cutoff
    reopened_seen = tl.reopened & (reopen_at < cutoff)
    resolved_again = tl.reopened & (resolve_again < cutoff)
    resolved_at = np.where(resolved_again, resolve_again, np.where(solution < cutoff, solution, _NEVER))
    resolved_seen = resolved_at < cutoff
    is_closed = closed < cutoff
    status_code = np.select(
        [
            is_closed,
            resolved_again,
            reopened_seen,
            solution < cutoff,
            (tl.wait != WAIT_NONE) & (_seconds(tl.wait_end) < cutoff),
            first_reply < cutoff,
        ],
        [5, 4, 1, 4, 1, np.where(tl.wait == WAIT_CUSTOMER, 2, np.where(tl.wait == WAIT_THIRD_PARTY, 3, 1))],
        default=0,
    )
    status = pl.Series([s.value for s in Status]).gather(status_code)

    # Surveys go out when an interaction is solved; about a third of customers answer.
    answered = tl.survey_answered & resolved_seen
    quality = tl.csat_quality
    csat = np.clip(np.round(quality), 1, 5)
    nps = np.clip(np.round(2.2 * quality - 1.2 + tl.noise), 0, 10)
    ces = np.clip(np.round(1.4 * quality + 0.2 + 0.8 * tl.noise), 1, 7)

    slug = pl.Series([t.lower().replace(" & ", "_").replace(" ", "_") for t in TEAMS]).gather(tl.team)
    channel = pl.Series(CHANNELS).gather(tl.channel)
    escalated = tl.slow_first_reply & (tl.priority == PRIORITIES.index("urgent"))
    tags = pl.select(
        pl.concat_list(
            [pl.lit(slug), pl.lit(channel), pl.when(pl.lit(pl.Series(escalated))).then(pl.lit("escalated"))]
        ).list.drop_nulls()
    ).to_series()
    return pl.DataFrame(
        {
            "interaction_id": names["interaction_id"],
            "channel": channel,
            "location": pl.Series([loc.name for loc in LOCATIONS]).gather(tl.site),
            "team": pl.Series(TEAMS).gather(tl.team),
            "agent": names["agent"],
            "customer": names["customer"],
            "priority": pl.Series(PRIORITIES).gather(tl.priority),
            "status": status,
            "subject": names["subject"],
            "created_at": _utc(created),
            "first_response_at": _utc_or_null(first_reply, first_reply < cutoff),
            "resolved_at": _utc_or_null(np.where(resolved_seen, resolved_at, 0), resolved_seen),
            "closed_at": _utc_or_null(closed, is_closed),
            "reopens": reopened_seen.astype(np.int32),
            "csat": pl.Series(np.where(answered, csat, np.nan)).fill_nan(None),
            "nps": pl.Series(np.where(answered & tl.nps_asked, nps, np.nan)).fill_nan(None),
            "ces": pl.Series(np.where(answered & tl.ces_asked, ces, np.nan)).fill_nan(None),
            "tags": tags,
        }
    )


def demo_plan(interactions: int = 50_000, seed: int = 7, end: date | None = None) -> DemoPlan:
    """The drawn organisation, ready to be built at once or chunk by chunk."""
    if interactions < 1:
        raise ValueError(f"interactions must be at least 1, got {interactions}")
    end = end or datetime.now(UTC).date()
    return plan_demo(draw_timeline(interactions, seed, end), seed)


def generate_frames(
    interactions: int = 50_000, seed: int = 7, end: date | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The demo tables in memory (see :func:`servicelens.demo.write.generate_demo`)."""
    plan = demo_plan(interactions, seed, end)
    return plan.chunk(0, plan.size)
