"""Draws the demo organisation's interactions as column arrays: who, when, how each one unfolded.

Everything is vectorised with numpy; one :class:`Timeline` holds one array per attribute, all of the same
length, sorted by creation time. The event slots (see ``transcripts.py``) are derived from these arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from servicelens.demo.clock import (
    BoolArray,
    BusinessClock,
    FloatArray,
    IntArray,
    build_site_days,
    epoch_seconds,
)
from servicelens.demo.organisation import (
    AGENTS,
    CHANNEL_MIX,
    LIVE_CHANNELS,
    LOCATION_NAMES,
    LOCATIONS,
    PRIORITY_MIX,
    TEAMS,
)
from servicelens.demo.planted import (
    CSAT_DRIFT,
    CSAT_DRIFT_DAYS,
    FREQUENT_REOPENS,
    GREETING_SKIPPED,
    SLOW_FIRST_RESPONSE,
    UNDER_ESCALATION,
)

HISTORY_DAYS = 396  # a full year plus a month, so every month-over-month view has a previous year
HOUR = 3600.0
DAY = 86400
CHANNELS = tuple(CHANNEL_MIX)
PRIORITIES = tuple(PRIORITY_MIX)
# Wait types after the first reply.
WAIT_NONE, WAIT_CUSTOMER, WAIT_THIRD_PARTY = 0, 1, 2

# Business-time medians by priority (urgent, high, normal, low), in hours.
_FIRST_REPLY_MEDIAN_H = np.array([0.5, 1.5, 4.0, 8.0])
_WORK_MEDIAN_H = np.array([1.0, 2.5, 5.0, 9.0])
# A first reply slower than this (business hours) calls for an apology.
SLOW_REPLY_H = np.array([1.0, 4.0, 8.0, 16.0])
SURVEY_RESPONSE_RATE = 0.3
_WEEKDAY_VOLUME = np.array([1.25, 1.1, 1.0, 1.0, 0.9, 0.55, 0.35])
# The fixed probability that a reply follows each protocol step, relative to the agent's skill.
_PROTOCOL_OFFSETS = {
    "greeting": 0.06,
    "name": -0.04,
    "empathy": -0.15,
    "apology": -0.1,
    "solution": 0.0,
    "promise": -0.05,
    "follow_through": -0.1,
    "thanks": 0.0,
}
PROTOCOL_STEPS = tuple(_PROTOCOL_OFFSETS)


@dataclass
class Timeline:
    """One entry per interaction, sorted by ``created``; times are UTC epoch seconds (float)."""

    cutoff: int  # nothing happens at or after this instant (start of the end date, UTC)
    agent: IntArray
    site: IntArray
    team: IntArray
    channel: IntArray
    priority: IntArray
    subject: IntArray  # index into the team's subjects
    utc_offset: IntArray  # seconds east of UTC at the site on the creation day (for local dates in texts)
    customer: IntArray
    created: FloatArray
    first_reply: FloatArray
    solved_first: BoolArray  # the first reply already solved it (typical for calls and chats)
    wait: IntArray  # WAIT_* after the first reply
    wait_end: FloatArray
    follow_up: FloatArray  # when the promised follow-up was sent (for third-party waits)
    note: BoolArray
    note_at: FloatArray
    solution: FloatArray  # the solving reply (== first_reply when solved_first)
    reopened: BoolArray
    reopen_at: FloatArray
    resolve_again: FloatArray
    closed: FloatArray
    slow_first_reply: BoolArray
    protocol: dict[str, BoolArray]
    csat_quality: FloatArray  # latent satisfaction on the CSAT scale before rounding
    survey_answered: BoolArray
    nps_asked: BoolArray
    ces_asked: BoolArray
    noise: FloatArray  # per-interaction noise reused by the NPS / CES answers


def _lognormal(rng: np.random.Generator, median: FloatArray | float, sigma: float, n: int) -> FloatArray:
    return np.asarray(median * np.exp(rng.normal(0.0, sigma, n)), dtype=np.float64)


def _draw_days(rng: np.random.Generator, weights: FloatArray, rows: IntArray) -> IntArray:
    """One day per entry from the weight row ``rows[k]`` (inverse CDF over all rows in one search)."""
    cdf = np.cumsum(weights, axis=1)
    cdf /= cdf[:, -1:]
    flat = (cdf + np.arange(weights.shape[0])[:, None]).ravel()
    hits = np.searchsorted(flat, rows + rng.random(rows.size) * (1 - 1e-12), side="right")
    return np.asarray(np.minimum(hits - rows * weights.shape[1], weights.shape[1] - 1), dtype=np.int64)


def draw_timeline(n: int, seed: int, end: date) -> Timeline:
    rng = np.random.default_rng(seed)
    first_day = end - timedelta(days=HISTORY_DAYS)
    days = build_site_days(LOCATIONS, first_day - timedelta(days=1), end + timedelta(days=150))
    clock = BusinessClock(days)
    cutoff = epoch_seconds(end)
    site_of_agent = np.array([LOCATION_NAMES.index(a.location) for a in AGENTS])
    team_of_agent = np.array([TEAMS.index(a.team) for a in AGENTS])

    # Who: an agent (weighted by site volume), which fixes site and team; channel and priority mixes.
    share = np.array([loc.volume_share for loc in LOCATIONS])
    agent_p = share[site_of_agent] / np.bincount(site_of_agent)[site_of_agent]
    agent = rng.choice(len(AGENTS), n, p=agent_p / agent_p.sum())
    site, team = site_of_agent[agent], team_of_agent[agent]
    channel = rng.choice(len(CHANNELS), n, p=list(CHANNEL_MIX.values()))
    priority = rng.choice(len(PRIORITIES), n, p=list(PRIORITY_MIX.values()))
    live = np.isin(channel, [CHANNELS.index(c) for c in LIVE_CHANNELS])

    # When: day by weekday, growth and a December peak; calls and chats only on open days.
    history = slice(1, 1 + HISTORY_DAYS)
    day_of_year = (days.day_epoch[history] // DAY) % 365.25
    volume = (
        _WEEKDAY_VOLUME[days.weekday[history]]
        * np.linspace(0.85, 1.15, HISTORY_DAYS)
        * (1 + 0.3 * np.exp(-(((day_of_year - 340) / 20) ** 2)))
    )
    is_open = days.is_open[:, history]
    live_w = volume * is_open
    async_w = volume * np.where(is_open, 1.0, 0.35)
    rows = site * 2 + live
    day = _draw_days(rng, np.stack([async_w, live_w], axis=1).reshape(-1, HISTORY_DAYS), rows) + 1
    open_h, close_h = days.open_hour[site, day], days.close_hour[site, day]
    peak = np.where(rng.random(n) < 0.55, rng.beta(2.5, 4.0, n), rng.beta(4.0, 2.5, n))
    live_hour = open_h + peak * (close_h - open_h)
    # E-mails and forms arrive round the clock but mostly in the daytime; never 00:00-05:00 local, which
    # keeps every local time clear of daylight-saving gaps.
    async_hour = np.where(rng.random(n) < 0.8, 7 + rng.beta(2, 2, n) * 15, 5 + rng.random(n) * 19)
    local_seconds = np.floor(np.where(live, live_hour, async_hour) * 3600)
    created = (days.day_epoch[day] + local_seconds - days.utc_offset[site, day]).astype(np.float64)
    created = np.where(created >= cutoff, created - 7 * DAY, created)  # same weekday and hour, a week back

    utc_offset = days.utc_offset[site, day]
    order = np.argsort(created, kind="stable")
    columns: tuple[IntArray, ...] = (agent, site, team, channel, priority, live, created, utc_offset)
    agent, site, team, channel, priority, live, created, utc_offset = (a[order] for a in columns)
    subject = rng.integers(0, 3, n)

    # How fast: per-agent speed, per-priority medians, the planted slow site.
    speed = _lognormal(rng, 1.0, 0.3, len(AGENTS))[agent]
    slow_site = site == LOCATION_NAMES.index(SLOW_FIRST_RESPONSE.value)
    reply_business = _lognormal(rng, _FIRST_REPLY_MEDIAN_H[priority] * HOUR, 0.9, n) * speed
    reply_business *= np.where(slow_site, SLOW_FIRST_RESPONSE.factor, 1.0)
    phone = channel == CHANNELS.index("phone")
    live_delay = np.where(phone, 10 + rng.exponential(40, n), 20 + _lognormal(rng, 60.0, 0.7, n))
    first_reply = np.where(live, created + np.round(live_delay), clock.add(site, created, reply_business))
    reply_business = np.where(live, live_delay, reply_business)
    slow_first_reply = reply_business > SLOW_REPLY_H[priority] * HOUR

    # Protocol: each agent has a skill; each step is followed with skill + a fixed offset.
    skill = rng.beta(9.0, 1.5, len(AGENTS))
    greeting_team = TEAMS.index(GREETING_SKIPPED.value)
    protocol: dict[str, BoolArray] = {}
    for step, offset in _PROTOCOL_OFFSETS.items():
        rate = np.clip(skill + offset, 0.05, 0.99)
        if step == "greeting":
            skipping = team_of_agent == greeting_team
            rate = np.where(
                skipping, np.clip(rng.normal(GREETING_SKIPPED.factor, 0.05, len(AGENTS)), 0, 1), rate
            )
        protocol[step] = rng.random(n) < rate[agent]
    protocol["apology"] &= slow_first_reply

    # What happened next: solved at once, waits on the customer or a third party, work, reopens, closure.
    urgent = priority == PRIORITIES.index("urgent")
    solved_first = rng.random(n) < np.where(live, 0.65, np.where(urgent, 0.0, 0.12))
    wait_draw = rng.random(n)
    wait = np.where(solved_first, WAIT_NONE, np.where(wait_draw < 0.3, WAIT_CUSTOMER, WAIT_NONE))
    wait = np.where(~solved_first & (wait_draw > 0.86), WAIT_THIRD_PARTY, wait)
    customer_delay = np.clip(_lognormal(rng, 4 * HOUR, 1.1, n), 600, 5 * DAY)
    hold_business = _lognormal(rng, 10 * HOUR, 0.6, n)
    wait_end = np.where(
        wait == WAIT_CUSTOMER,
        first_reply + np.round(customer_delay),
        np.where(wait == WAIT_THIRD_PARTY, clock.add(site, first_reply, hold_business), first_reply),
    )
    protocol["promise"] &= wait == WAIT_THIRD_PARTY
    protocol["follow_through"] &= protocol["promise"]
    follow_up = clock.add(site, first_reply, hold_business * rng.uniform(0.3, 0.8, n))

    work = _lognormal(rng, _WORK_MEDIAN_H[priority] * HOUR, 0.8, n) * speed
    under_escalated = urgent & (team == TEAMS.index(UNDER_ESCALATION.value))
    work *= np.where(under_escalated, UNDER_ESCALATION.factor, 1.0)
    solution = np.where(solved_first, first_reply, clock.add(site, wait_end, work))
    next_after_first = np.where(wait != WAIT_NONE, wait_end, solution)
    note = ~solved_first & (rng.random(n) < 0.35)
    note_at = np.minimum(
        clock.time_at(
            site,
            clock.position(site, first_reply)
            + 0.3 * (clock.position(site, next_after_first) - clock.position(site, first_reply)),
        ),
        next_after_first,
    )
    note_at = np.maximum(note_at, first_reply)

    reopen_p = np.where(protocol["solution"], 0.05, 0.22)
    reopen_p *= np.where(site == LOCATION_NAMES.index(FREQUENT_REOPENS.value), FREQUENT_REOPENS.factor, 1.0)
    reopened = rng.random(n) < reopen_p
    reopen_at = solution + np.round(np.clip(_lognormal(rng, 18 * HOUR, 1.0, n), 900, 6 * DAY))
    resolve_again = clock.add(site, reopen_at, _lognormal(rng, 2 * HOUR, 0.8, n) * speed)
    closed = np.where(reopened, resolve_again, solution) + 4 * DAY  # auto-close four days after solving

    # Satisfaction: driven by how the interaction went; the planted site drifts down in the last quarter.
    resolution_h = (clock.position(site, solution) - clock.position(site, created)) / HOUR
    quality = (
        4.3
        - 0.9 * slow_first_reply
        - 0.8 * reopened
        - 0.5 * ~protocol["solution"]
        + 0.2 * protocol["greeting"]
        + 0.25 * protocol["empathy"]
        - 0.6 * (protocol["promise"] & ~protocol["follow_through"])
        + 0.15 * protocol["thanks"]
        - 0.3 * (resolution_h > 24)
    )
    drift_start = cutoff - CSAT_DRIFT_DAYS * DAY
    drift = np.clip((created - drift_start) / (CSAT_DRIFT_DAYS * DAY), 0, 1)
    quality -= np.where(site == LOCATION_NAMES.index(CSAT_DRIFT.value), CSAT_DRIFT.factor * drift, 0.0)
    csat_quality = quality + rng.normal(0, 0.65, n)
    answered = rng.random(n) < SURVEY_RESPONSE_RATE
    nps_asked = rng.random(n) < 0.6
    ces_asked = rng.random(n) < 0.5

    return Timeline(
        cutoff=cutoff,
        agent=agent,
        site=site,
        team=team,
        channel=channel,
        priority=priority,
        subject=subject,
        utc_offset=utc_offset,
        customer=_draw_customers(rng, site, created, reopened | ~protocol["solution"]),
        created=created,
        first_reply=first_reply,
        solved_first=solved_first,
        wait=wait,
        wait_end=wait_end,
        follow_up=follow_up,
        note=note,
        note_at=note_at,
        solution=solution,
        reopened=reopened,
        reopen_at=reopen_at,
        resolve_again=resolve_again,
        closed=closed,
        slow_first_reply=slow_first_reply,
        protocol=protocol,
        csat_quality=csat_quality,
        survey_answered=answered,
        nps_asked=nps_asked,
        ces_asked=ces_asked,
        noise=rng.normal(0, 0.8, n),
    )


def _draw_customers(
    rng: np.random.Generator, site: IntArray, created: FloatArray, unresolved: BoolArray
) -> IntArray:
    """Customer numbers: a skewed pool per site, plus repeat contacts after poorly resolved interactions.

    A repeat contact copies the customer of an earlier interaction of the same site into one created a few
    days later, so the FCR repeat-contact rule has real cases to find (and more after bad service).
    """
    n = site.size
    per_site = max(50, int(n * 0.9 / len(LOCATIONS)))
    customer = site * per_site + np.floor(per_site * rng.random(n) ** 1.2).astype(np.int64)
    origin = rng.random(n) < np.where(unresolved, 0.35, 0.06)
    by_site = np.lexsort((created, site))
    key = site[by_site] * 10**11 + created[by_site]
    origin_pos = np.nonzero(origin[by_site])[0]
    target_key = key[origin_pos] + np.clip(
        _lognormal(rng, 2.0 * DAY, 0.8, origin_pos.size), 3600, 7 * DAY - 60
    )
    target_pos = np.searchsorted(key, target_key, side="left")
    ok = target_pos < n
    origin_pos, target_pos = origin_pos[ok], target_pos[ok]
    ok = (site[by_site][target_pos] == site[by_site][origin_pos]) & (target_pos > origin_pos)
    customer[by_site[target_pos[ok]]] = customer[by_site[origin_pos[ok]]]
    return customer
