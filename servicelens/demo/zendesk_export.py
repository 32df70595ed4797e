"""The Zendesk sites' tickets as a user downloads them from the Zendesk Support API.

Per chunk of the demo:

- ``incremental_tickets-<chunk>-<page>.json``: pages of the cursor-based incremental ticket export
  (``/api/v2/incremental/tickets/cursor.json?include=users,groups,organizations,metric_sets``), up to
  1,000 tickets a page in ``updated_at`` order, each with its sideloads (the users, groups and organizations
  its tickets name, and their ``metric_sets``), ``after_url`` / ``after_cursor`` / ``before_url`` /
  ``before_cursor`` and ``end_of_stream`` (true on the chunk's last page);
- ``incremental_tickets-<chunk>-<page>_audits.json``: the audits of that page's tickets as a
  ``/api/v2/ticket_audits.json`` page (``audits``, ``meta``, ``links``);
- ``satisfaction_ratings-<chunk>.json``: the answered ratings as a ``/api/v2/satisfaction_ratings.json`` page.

The objects themselves (ids, fields, survey custom fields ``NPS_FIELD_ID`` / ``CES_FIELD_ID``) are written by
``servicelens.demo.zendesk_objects``.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime

import polars as pl

from servicelens.demo.vendor_json import (
    agent_index,
    customer_number,
    iso,
    json_array,
    site_index,
    team_index,
    ticket_history,
)
from servicelens.demo.zendesk_objects import (
    AGENT_ID_BASE,
    BASE_URL,
    CES_FIELD_ID,
    END_USER_ID_BASE,
    GROUP_ID_BASE,
    METRIC_ID_BASE,
    NPS_FIELD_ID,
    ORGANIZATION_ID_BASE,
    RATING_ID_BASE,
    audit_objects,
    metric_json,
    rating_json,
    reference_objects,
    ticket_json,
    user_json,
)

__all__ = ["CES_FIELD_ID", "NPS_FIELD_ID", "TICKETS_PER_PAGE", "write_chunk"]

TICKETS_PER_PAGE = 1000  # the most the incremental export returns per page
_NO_MORE_PAGES = (
    '"meta":{"has_more":false,"after_cursor":null,"before_cursor":null},"links":{"prev":null,"next":null}'
)


def write_chunk(interactions: pl.DataFrame, events: pl.DataFrame, chunk: int) -> dict[str, str]:
    """The files of one chunk's Zendesk tickets: file name -> JSON text."""
    tickets = (
        interactions.with_columns(
            ticket_id=pl.col("external_id").cast(pl.Int64),
            requester_id=END_USER_ID_BASE + customer_number(),
            assignee_id=AGENT_ID_BASE + agent_index(),
            group_id=GROUP_ID_BASE + team_index(),
            organization_id=ORGANIZATION_ID_BASE + site_index(),
            metric_id=METRIC_ID_BASE + pl.col("external_id").cast(pl.Int64),
            rating_id=RATING_ID_BASE + pl.col("external_id").cast(pl.Int64),
        )
        .join(ticket_history(interactions, events), on="interaction_id", how="left", maintain_order="left")
        .sort("updated_at", "ticket_id")
        .with_columns(page=(pl.int_range(pl.len()) // TICKETS_PER_PAGE + 1).cast(pl.Int64))
    )
    stamp = iso(pl.lit(interactions["created_at"].min()).dt.offset_by("-30d"))
    pages = tickets.with_columns(
        ticket_json=ticket_json(),
        metric_json=metric_json(),
        user_json=user_json(stamp),
    )
    audits = audit_objects(tickets, events).join(tickets.select("ticket_id", "page"), on="ticket_id")
    reference = reference_objects(stamp)
    last_page = int(tickets["page"].max())  # type: ignore[arg-type]
    files: dict[str, str] = {}
    previous_cursor: str | None = None
    for (page,), rows in pages.partition_by("page", as_dict=True, maintain_order=True).items():
        name = f"incremental_tickets-{chunk:04d}-{page:03d}"
        last = rows.row(rows.height - 1, named=True)
        cursor = _cursor(last["updated_at"], last["ticket_id"])
        files[f"{name}.json"] = _tickets_page(rows, reference, previous_cursor, cursor, page == last_page)
        page_audits = audits.filter(pl.col("page") == page)
        files[f"{name}_audits.json"] = f'{{"audits":{json_array(page_audits["json"])},{_NO_MORE_PAGES}}}'
        previous_cursor = cursor
    rated = tickets.filter(pl.col("csat").is_not_null() & (pl.col("csat") != 3)).sort("ticket_id")
    ratings = rated.select(rating_json()).to_series()
    files[f"satisfaction_ratings-{chunk:04d}.json"] = (
        f'{{"satisfaction_ratings":{json_array(ratings)},{_NO_MORE_PAGES}}}'
    )
    return files


def _cursor(updated_at: datetime, ticket_id: int) -> str:
    """An opaque cursor in Zendesk's style (base64 of the position after the page's last ticket)."""
    return base64.b64encode(f"{updated_at.timestamp():.1f}||{ticket_id}|".encode()).decode()


def _tickets_page(
    rows: pl.DataFrame, reference: dict[str, pl.DataFrame], before: str | None, after: str, end: bool
) -> str:
    """One incremental export page: tickets, then the sideloads the page's tickets refer to."""
    agents = reference["agents"].join(rows.select(id="assignee_id").unique(), on="id", how="semi")
    end_users = rows.select(id="requester_id", json="user_json").unique("id").sort("id")
    users = pl.concat([agents.select("id", "json"), end_users])
    groups = reference["groups"].join(rows.select(id="group_id").unique(), on="id", how="semi")
    orgs = reference["organizations"].join(rows.select(id="organization_id").unique(), on="id", how="semi")
    url = f"{BASE_URL}/incremental/tickets/cursor.json?include=users,groups,organizations,metric_sets"
    cursors = {
        "after_url": f"{url}&cursor={after}",
        "after_cursor": after,
        "before_url": f"{url}&cursor={before}" if before else None,
        "before_cursor": before,
        "end_of_stream": end,
    }
    return (
        f'{{"tickets":{json_array(rows["ticket_json"])},"users":{json_array(users["json"])},'
        f'"groups":{json_array(groups["json"])},"organizations":{json_array(orgs["json"])},'
        f'"metric_sets":{json_array(rows["metric_json"])},{json.dumps(cursors, separators=(",", ":"))[1:]}'
    )
