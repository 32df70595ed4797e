"""Column-wise helpers for writing vendor API objects as JSON with polars (no loop over records)."""

from __future__ import annotations

import polars as pl

from servicelens.demo.organisation import AGENTS, LOCATIONS, TEAMS
from servicelens.model import EventType

ISO_SECONDS = "%Y-%m-%dT%H:%M:%SZ"  # what both vendors' APIs return: UTC, whole seconds


def iso(column: str | pl.Expr) -> pl.Expr:
    expr = pl.col(column) if isinstance(column, str) else column
    return expr.dt.strftime(ISO_SECONDS)


def json_array(objects: pl.Series) -> str:
    """A column of JSON object texts as one JSON array."""
    return "[" + ",".join(objects.to_list()) + "]"


def display_name(column: str = "customer") -> pl.Expr:
    """The demo customer's name from their address ``first.last.<number>@example.com``: ``First Last``."""
    parts = pl.col(column).str.extract_groups(r"^([a-z]+)\.([a-z]+)\.")
    return pl.concat_str(
        [parts.struct.field("1").str.to_titlecase(), parts.struct.field("2").str.to_titlecase()],
        separator=" ",
    )


def index_of(column: str, values: tuple[str, ...] | list[str]) -> pl.Expr:
    """The position of each value in ``values`` (every value must be known)."""
    return pl.col(column).replace_strict(list(values), list(range(len(values))), return_dtype=pl.Int64)


def agent_index(column: str = "agent") -> pl.Expr:
    return index_of(column, [a.name for a in AGENTS])


def team_index(column: str = "team") -> pl.Expr:
    return index_of(column, TEAMS)


def site_index(column: str = "location") -> pl.Expr:
    return index_of(column, [loc.name for loc in LOCATIONS])


def customer_number(column: str = "customer") -> pl.Expr:
    """The demo customer's number, kept in the address (``first.last.<number>@example.com``)."""
    return pl.col(column).str.extract(r"\.(\d+)@", 1).cast(pl.Int64)


def ticket_history(interactions: pl.DataFrame, events: pl.DataFrame) -> pl.DataFrame:
    """Per interaction, the facts both vendors keep beside the ticket, derived from its event history."""
    e = events
    status_changes = e.filter(pl.col("type") == EventType.STATUS_CHANGE).with_columns(
        previous=pl.col("status").shift(1).over("interaction_id")
    )
    messages = e.filter(pl.col("type").is_in([EventType.CUSTOMER_MESSAGE, EventType.AGENT_REPLY]))
    by_status = status_changes.group_by("interaction_id").agg(
        first_solved=pl.col("at").filter(pl.col("status") == "solved").min(),
        status_updated_at=pl.col("at").max(),
        reopened_at=pl.col("at")
        .filter((pl.col("status") == "open") & (pl.col("previous") == "solved"))
        .max(),
    )
    by_message = messages.group_by("interaction_id").agg(
        description=pl.col("body").filter(pl.col("type") == EventType.CUSTOMER_MESSAGE).first(),
        requester_updated_at=pl.col("at").filter(pl.col("type") == EventType.CUSTOMER_MESSAGE).max(),
        agent_responded_at=pl.col("at").filter(pl.col("type") == EventType.AGENT_REPLY).max(),
        replies=(pl.col("type") == EventType.AGENT_REPLY).sum().cast(pl.Int64),
    )
    latest_comment = (
        e.filter(pl.col("body").is_not_null() & (pl.col("type") != EventType.ASSIGNMENT))
        .group_by("interaction_id")
        .agg(latest_comment_added_at=pl.col("at").max())
    )
    return (
        interactions.select("interaction_id")
        .join(by_status, on="interaction_id", how="left", maintain_order="left")
        .join(by_message, on="interaction_id", how="left", maintain_order="left")
        .join(latest_comment, on="interaction_id", how="left", maintain_order="left")
    )
