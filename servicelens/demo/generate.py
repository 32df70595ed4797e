"""Writes the demo organisation in the generic import format: interactions.parquet and events.parquet.

Interaction fields are derived from the same event times the transcript is built from, after cutting
everything at the end instant, so first_response_at, resolved_at, reopens and status always agree with
the event history.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import polars as pl

from servicelens.demo import transcripts as tx
from servicelens.demo.clock import BoolArray, FloatArray, IntArray
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

INTERACTIONS_FILE = "interactions.parquet"
EVENTS_FILE = "events.parquet"
SYSTEM_AUTHOR = "system"
_NEVER = np.iinfo(np.int64).max


@dataclass(frozen=True)
class DemoSummary:
    out_dir: Path
    interactions: int
    events: int
    first_created: datetime
    cutoff: datetime  # nothing in the files happens at or after this instant
    files: dict[str, int] = field(default_factory=dict)  # file name -> size in bytes


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
    present: BoolArray
    at: IntArray
    type: EventType
    status: Status | pl.Expr | None = None
    author: str = "agent"  # "agent", "customer" or "system"
    body: pl.Expr | None = None


def _external_ids(source_codes: IntArray) -> IntArray:
    """Ticket numbers counting up per source in creation order, as each helpdesk would number them."""
    ids = np.zeros(source_codes.size, dtype=np.int64)
    for code in np.unique(source_codes):
        mask = source_codes == code
        ids[mask] = 10_001 + np.arange(int(mask.sum()))
    return ids


def build_frames(tl: Timeline, seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The two canonical tables for a drawn timeline."""
    rng = np.random.default_rng([seed, 1])
    n = tl.created.size
    cutoff = tl.cutoff
    created, first_reply = _seconds(tl.created), _seconds(tl.first_reply)
    wait_end, follow_up, note_at = _seconds(tl.wait_end), _seconds(tl.follow_up), _seconds(tl.note_at)
    solution, reopen_at = _seconds(tl.solution), _seconds(tl.reopen_at)
    resolve_again, closed = _seconds(tl.resolve_again), _seconds(tl.closed)
    p = tl.protocol

    sources = source_of_site()
    source = pl.Series(sources).gather(tl.site)
    source_code = np.array([sources.index(s) for s in sources])[tl.site]  # first site of each source
    external_id = pl.Series(_external_ids(source_code)).cast(pl.String)
    iid = source + ":" + external_id
    first = tx.first_names(tl.customer, CUSTOMER_FIRST_NAMES)
    last = pl.Series(CUSTOMER_LAST_NAMES).gather(
        (tl.customer // len(CUSTOMER_FIRST_NAMES)) % len(CUSTOMER_LAST_NAMES)
    )
    customer = (
        first + "." + last + "." + pl.Series(tl.customer).cast(pl.String) + "@example.com"
    ).str.to_lowercase()
    agent_name = pl.Series([a.name for a in AGENTS]).gather(tl.agent)
    agent_first = agent_name.str.split(" ").list.first()
    subjects = pl.Series([s for team in TEAM_SUBJECTS for s in team]).gather(tl.team * 3 + tl.subject)
    base = pl.DataFrame(
        {
            "interaction_id": iid,
            "first": first,
            "customer": customer,
            "agent": agent_name,
            "agent_first": agent_first,
            "subject": subjects,
        }
    )

    # The status after the first reply, and what the first reply says.
    after_first = np.where(
        tl.solved_first,
        0,
        np.where(tl.wait == WAIT_CUSTOMER, 1, np.where(tl.wait == WAIT_THIRD_PARTY, 2, 3)),
    )
    first_status = pl.Series([Status.SOLVED, Status.PENDING, Status.ON_HOLD, Status.OPEN]).gather(after_first)
    local_wait_end = pl.Series(_seconds(tl.wait_end + tl.utc_offset) * 1000).cast(pl.Datetime("ms"))
    promise_date = local_wait_end.dt.strftime("%A %-d %B")
    upset = (tl.priority <= PRIORITIES.index("high")) | (tl.team == TEAMS.index("Complaints"))
    always = np.ones(n, dtype=bool)
    not_first = ~tl.solved_first
    c_first, c_agent_first = pl.col("first"), pl.col("agent_first")

    slots = [
        _Slot(always, created, EventType.CUSTOMER_MESSAGE, author="customer",
              body=tx.customer_request(rng, pl.col("subject"), c_first, upset)),
        _Slot(always, created, EventType.STATUS_CHANGE, Status.NEW, author="system"),
        _Slot(always, created, EventType.ASSIGNMENT, author="system",
              body=pl.concat_str([pl.lit("Assigned to "), pl.col("agent")])),
        _Slot(always, first_reply, EventType.AGENT_REPLY, body=tx.join_lines(
            *tx.agent_opening(rng, c_first, p["greeting"], p["name"], p["empathy"], p["apology"]),
            *tx.first_reply_middle(rng, after_first, p["solution"], p["promise"], pl.lit(promise_date)),
            *tx.sign_off(c_agent_first, p["thanks"] & tl.solved_first),
        )),
        _Slot(always, first_reply, EventType.STATUS_CHANGE, pl.lit(first_status)),
        _Slot(tl.note, note_at, EventType.INTERNAL_NOTE, body=tx.internal_note(rng, n)),
        _Slot(p["follow_through"], follow_up, EventType.AGENT_REPLY, body=tx.join_lines(
            *tx.agent_opening(rng, c_first, p["greeting"], p["name"]),
            tx.follow_up_text(rng, n), *tx.sign_off(c_agent_first),
        )),
        _Slot(tl.wait == WAIT_CUSTOMER, wait_end, EventType.CUSTOMER_MESSAGE, author="customer",
              body=tx.customer_follow_up(rng, c_first, n, reopen=False)),
        _Slot(tl.wait != WAIT_NONE, wait_end, EventType.STATUS_CHANGE, Status.OPEN),
        _Slot(not_first, solution, EventType.AGENT_REPLY, body=tx.join_lines(
            *tx.agent_opening(rng, c_first, p["greeting"], p["name"]),
            tx.solution_line(rng, p["solution"]), *tx.sign_off(c_agent_first, p["thanks"]),
        )),
        _Slot(not_first, solution, EventType.STATUS_CHANGE, Status.SOLVED),
        _Slot(tl.reopened, reopen_at, EventType.CUSTOMER_MESSAGE, author="customer",
              body=tx.customer_follow_up(rng, c_first, n, reopen=True)),
        _Slot(tl.reopened, reopen_at, EventType.STATUS_CHANGE, Status.OPEN, author="customer"),
        _Slot(tl.reopened, resolve_again, EventType.AGENT_REPLY, body=tx.join_lines(
            *tx.agent_opening(rng, c_first, p["greeting"], p["name"]),
            tx.reopen_reply(rng, n), *tx.sign_off(c_agent_first, p["thanks"]),
        )),
        _Slot(tl.reopened, resolve_again, EventType.STATUS_CHANGE, Status.SOLVED),
        _Slot(always, closed, EventType.STATUS_CHANGE, Status.CLOSED, author="system"),
    ]  # fmt: skip

    frames = []
    updated = created.copy()
    for seq, slot in enumerate(slots):
        keep = slot.present & (slot.at < cutoff)
        updated = np.where(keep, np.maximum(updated, slot.at), updated)
        author = {"agent": pl.col("agent"), "customer": pl.col("customer")}.get(
            slot.author, pl.lit(SYSTEM_AUTHOR)
        )
        status = slot.status if isinstance(slot.status, pl.Expr) else pl.lit(slot.status, dtype=pl.String)
        frame = base.select(
            pl.col("interaction_id"),
            pl.lit(_utc(slot.at)).alias("at"),
            pl.lit(slot.type.value).alias("type"),
            status.cast(pl.String).alias("status"),
            author.alias("author"),
            (slot.body if slot.body is not None else pl.lit(None, dtype=pl.String)).alias("body"),
            pl.lit(seq, dtype=pl.Int32).alias("_seq"),
            pl.int_range(pl.len(), dtype=pl.Int64).alias("_row"),
        ).filter(pl.lit(pl.Series(keep)))
        frames.append(frame)
    events = pl.concat(frames).sort("_row", "_seq").drop("_row", "_seq").cast(EVENT_SCHEMA)  # type: ignore[arg-type]

    interactions = _interactions(
        tl, base, rng, created, first_reply, solution, reopen_at, resolve_again, closed
    )
    interactions = interactions.with_columns(
        pl.lit(source).alias("source"),
        pl.lit(external_id).alias("external_id"),
        pl.lit(_utc(updated)).alias("updated_at"),
    )
    return interactions.select(list(INTERACTION_SCHEMA)).cast(INTERACTION_SCHEMA), events  # type: ignore[arg-type]


def _interactions(
    tl: Timeline,
    base: pl.DataFrame,
    rng: np.random.Generator,
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
            "interaction_id": base["interaction_id"],
            "channel": channel,
            "location": pl.Series([loc.name for loc in LOCATIONS]).gather(tl.site),
            "team": pl.Series(TEAMS).gather(tl.team),
            "agent": base["agent"],
            "customer": base["customer"],
            "priority": pl.Series(PRIORITIES).gather(tl.priority),
            "status": status,
            "subject": base["subject"],
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


def generate_frames(
    interactions: int = 50_000, seed: int = 7, end: date | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The demo tables in memory (see :func:`generate_demo`)."""
    if interactions < 1:
        raise ValueError(f"interactions must be at least 1, got {interactions}")
    end = end or datetime.now(UTC).date()
    return build_frames(draw_timeline(interactions, seed, end), seed)


def generate_demo(
    out_dir: Path, interactions: int = 50_000, seed: int = 7, end: date | None = None
) -> DemoSummary:
    """Write the demo organisation to ``out_dir`` as interactions.parquet and events.parquet.

    The data covers the 396 days before ``end`` (default: today, so the dashboard looks current) and stops
    at ``end`` 00:00 UTC. The same ``interactions``, ``seed`` and ``end`` always give identical files.
    """
    end = end or datetime.now(UTC).date()
    inter, events = generate_frames(interactions, seed, end)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {INTERACTIONS_FILE: inter, EVENTS_FILE: events}
    for name, frame in files.items():
        frame.write_parquet(out_dir / name, compression="zstd", statistics=True)
    return DemoSummary(
        out_dir=out_dir,
        interactions=inter.height,
        events=events.height,
        first_created=inter["created_at"].min(),  # type: ignore[arg-type]
        cutoff=datetime(end.year, end.month, end.day, tzinfo=UTC),
        files={name: (out_dir / name).stat().st_size for name in files},
    )
