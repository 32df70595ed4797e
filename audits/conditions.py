"""Boolean expressions over the interactions table, shared by protocol-check conditions and targeted sampling.

Each helper takes the frame's schema, so it can prefer a column computed by the SLA engine
(``first_response_breached``, ``sla_breached``) and fall back to a calendar-time estimate when it is absent.
Every expression yields ``False`` (never null) for rows where the facts are unknown.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import polars as pl

from servicelens.model import Status

Schema = Mapping[str, pl.DataType]

FIRST_RESPONSE_BREACHED_COLUMN = "first_response_breached"
SLA_BREACHED_COLUMN = "sla_breached"


def first_response_breached(schema: Schema, target_minutes: float) -> pl.Expr:
    """The SLA engine's verdict when present, else: first reply later than the target in calendar time.

    >>> first_response_breached({"created_at": pl.Datetime()}, 60)  # doctest: +ELLIPSIS
    <Expr ...>
    """
    if FIRST_RESPONSE_BREACHED_COLUMN in schema:
        return pl.col(FIRST_RESPONSE_BREACHED_COLUMN).fill_null(False)
    waited = pl.col("first_response_at") - pl.col("created_at")
    return (waited > pl.duration(microseconds=int(target_minutes * 60_000_000))).fill_null(False)


def sla_breached(schema: Schema, target_minutes: float) -> pl.Expr:
    """Any SLA target breached, from the SLA engine's column; else the first-response estimate."""
    if SLA_BREACHED_COLUMN in schema:
        return pl.col(SLA_BREACHED_COLUMN).fill_null(False)
    return first_response_breached(schema, target_minutes)


def resolved() -> pl.Expr:
    return pl.col("status").is_in([Status.SOLVED.value, Status.CLOSED.value]).fill_null(False)


def reopened() -> pl.Expr:
    return (pl.col("reopens") > 0).fill_null(False)


def low_csat(at_most: int = 2) -> pl.Expr:
    return (pl.col("csat") <= at_most).fill_null(False)


def long_resolution(hours: float) -> pl.Expr:
    took = pl.col("resolved_at") - pl.col("created_at")
    return (took > pl.duration(microseconds=int(hours * 3_600_000_000))).fill_null(False)


@dataclass(frozen=True)
class Condition:
    """A named condition a protocol check can require (``when:`` in the config)."""

    name: str
    description: str
    build: Callable[[Schema, float], pl.Expr]  # (schema, first_response_target_minutes) -> bool expr


CONDITIONS: dict[str, Condition] = {
    c.name: c
    for c in [
        Condition(
            "first_response_breached",
            "the first response missed its target",
            first_response_breached,
        ),
        Condition("sla_breached", "an SLA target was breached", sla_breached),
        Condition("resolved", "the interaction is solved or closed", lambda _s, _t: resolved()),
        Condition("reopened", "the interaction was reopened", lambda _s, _t: reopened()),
        Condition("low_csat", "the customer rated it 1 or 2", lambda _s, _t: low_csat()),
    ]
}
