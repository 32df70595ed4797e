"""The Freshdesk sites' tickets as a user downloads them from the Freshdesk v2 API.

Per chunk of the demo, each file holding what the endpoint returns (its pages of 100 joined into one array):

- ``tickets-<chunk>.json``: ``/api/v2/tickets?include=stats,requester&order_by=updated_at&order_type=asc``,
  tickets with numeric ``status`` / ``priority`` / ``source``, ``stats``, the embedded ``requester``, and the
  first message as ``description`` / ``description_text`` (as ``/api/v2/tickets/{id}`` returns it);
- ``tickets-<chunk>_conversations.json``: ``/api/v2/tickets/{id}/conversations`` of those tickets, one array;
- ``satisfaction_ratings-<chunk>.json``: ``/api/v2/surveys/satisfaction_ratings`` of those tickets;

and once, with the first chunk, ``agents.json``, ``companies.json`` and ``groups.json``
(``/api/v2/agents``, ``/api/v2/companies``, ``/api/v2/groups``).

Freshdesk sends status, priority and source as numeric codes (its documented defaults are used here). The
customer's first message is the ticket's ``description``, as in Freshdesk; conversations hold everything
after it. Freshdesk has no ``new`` status: a ticket nobody has answered yet is Open (2). The satisfaction
survey has two custom questions besides the default (CSAT) one: ``NPS_QUESTION`` answered 0-10 and
``CES_QUESTION`` answered 1-7; a rating holds only the questions the customer answered.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from servicelens.demo.organisation import AGENTS, LOCATIONS, TEAMS
from servicelens.demo.vendor_json import (
    agent_index,
    customer_number,
    display_name,
    iso,
    json_array,
    site_index,
    team_index,
    ticket_history,
)
from servicelens.model import EventType

SUPPORT_EMAIL = "support@demo-retail.freshdesk.com"
AGENT_ID_BASE = 67_000_000_000
CONTACT_ID_BASE = 68_000_000_000
GROUP_ID_BASE = 67_100_000_000
COMPANY_ID_BASE = 67_200_000_000
RATING_ID_BASE = 67_300_000_000
SURVEY_ID = 67_400_000_001
NPS_QUESTION = "question_67400000002"  # the survey's custom questions, keyed as in a rating's `ratings`
CES_QUESTION = "question_67400000003"
CONVERSATION_ID_BASE = 69_000_000_000_000
STATUS_CODE = {"new": 2, "open": 2, "pending": 3, "solved": 4, "closed": 5, "on_hold": 7}
PRIORITY_CODE = {"low": 1, "normal": 2, "high": 3, "urgent": 4}
SOURCE_CODE = {"email": 1, "web": 2, "phone": 3, "social": 6, "chat": 7}
# CSAT 1-5 as answers of Freshdesk's default question (-103 extremely unhappy ... 103 extremely happy).
RATING_OF_CSAT = {1: -103, 2: -102, 3: 100, 4: 102, 5: 103}
_NO_RECIPIENTS = ',"cc_emails":[],"bcc_emails":[],"attachments":[]'


def _with_raw(json: pl.Expr, raw: str) -> pl.Expr:
    return pl.concat_str([json.str.strip_suffix("}"), pl.lit(raw), pl.lit("}")])


def html(text: pl.Expr) -> pl.Expr:
    escaped = (
        text.str.replace_all("&", "&amp;", literal=True)
        .str.replace_all("<", "&lt;", literal=True)
        .str.replace_all(">", "&gt;", literal=True)
        .str.replace_all("\n", "<br>", literal=True)
    )
    return pl.concat_str([pl.lit("<div>"), escaped, pl.lit("</div>")])


def write_chunk(interactions: pl.DataFrame, events: pl.DataFrame, chunk: int) -> dict[str, str]:
    """The files of one chunk's Freshdesk tickets: file name -> JSON text."""
    since: datetime = interactions["created_at"].min()  # type: ignore[assignment]
    tickets = (
        interactions.with_columns(
            ticket_id=pl.col("external_id").cast(pl.Int64),
            requester_id=CONTACT_ID_BASE + customer_number(),
            responder_id=AGENT_ID_BASE + agent_index(),
            group_id=GROUP_ID_BASE + team_index(),
            company_id=COMPANY_ID_BASE + site_index(),
        )
        .join(ticket_history(interactions, events), on="interaction_id", how="left", maintain_order="left")
        .sort("updated_at", "ticket_id")
    )
    rated = tickets.filter(pl.col("csat").is_not_null()).sort("resolved_at", "ticket_id")
    files = _reference_files(since) if chunk == 1 else {}
    files[f"tickets-{chunk:04d}.json"] = json_array(tickets.select(_ticket_json()).to_series())
    conversations = _conversations(tickets, events).select(_conversation_json()).to_series()
    files[f"tickets-{chunk:04d}_conversations.json"] = json_array(conversations)
    files[f"satisfaction_ratings-{chunk:04d}.json"] = json_array(rated.select(_rating_json()).to_series())
    return files


def _reference_files(since: datetime) -> dict[str, str]:
    stamp = iso(pl.lit(since).dt.offset_by("-30d"))
    sites = [i for i, loc in enumerate(LOCATIONS) if loc.helpdesk == "freshdesk"]
    names = {LOCATIONS[i].name for i in sites}
    companies = pl.DataFrame(
        {"id": [COMPANY_ID_BASE + i for i in sites], "name": [LOCATIONS[i].name for i in sites]}
    )
    groups = pl.DataFrame({"id": [GROUP_ID_BASE + i for i in range(len(TEAMS))], "name": list(TEAMS)})
    staff = [(i, a) for i, a in enumerate(AGENTS) if a.location in names]
    agents = pl.DataFrame(
        {
            "id": [AGENT_ID_BASE + i for i, _ in staff],
            "name": [a.name for _, a in staff],
            "group_id": [GROUP_ID_BASE + TEAMS.index(a.team) for _, a in staff],
            "time_zone": [
                next(loc.timezone for loc in LOCATIONS if loc.name == a.location) for _, a in staff
            ],
        }
    )
    contact = pl.struct(
        active=True, email=pl.col("name").str.to_lowercase().str.replace(" ", ".") + "@demo-retail.example",
        job_title=pl.lit(None, dtype=pl.String), language=pl.lit("en"), mobile=pl.lit(None, dtype=pl.String),
        name="name", phone=pl.lit(None, dtype=pl.String), time_zone="time_zone", created_at=stamp, updated_at=stamp,
    )  # fmt: skip
    return {
        "agents.json": json_array(agents.select(_with_raw(pl.struct(
            available=False, occasional=False, id="id", ticket_scope=pl.lit(1), signature=pl.lit(None, dtype=pl.String),
            group_ids=pl.concat_list("group_id"), available_since=pl.lit(None, dtype=pl.String), contact=contact,
            created_at=stamp, updated_at=stamp, type=pl.lit("support_agent")).struct.json_encode(),
            ',"role_ids":[],"skill_ids":[]')).to_series()),
        "companies.json": json_array(companies.select(_with_raw(pl.struct(
            id="id", name="name", description=pl.lit(None, dtype=pl.String), note=pl.lit(None, dtype=pl.String),
            created_at=stamp, updated_at=stamp).struct.json_encode(), ',"domains":[],"custom_fields":{}')).to_series()),
        "groups.json": json_array(groups.select(pl.struct(
            id="id", name="name", description=pl.lit(None, dtype=pl.String), escalate_to=pl.lit(None, dtype=pl.Int64),
            unassigned_for=pl.lit(None, dtype=pl.String), business_hour_id=pl.lit(None, dtype=pl.Int64),
            created_at=stamp, updated_at=stamp).struct.json_encode()).to_series()),
    }  # fmt: skip


def _ticket_json() -> pl.Expr:
    pending = pl.col("status") == "pending"
    stats = pl.struct(
        agent_responded_at=iso("agent_responded_at"),
        requester_responded_at=iso(
            pl.when(pl.col("requester_updated_at") > pl.col("created_at")).then(
                pl.col("requester_updated_at")
            )
        ),
        first_responded_at=iso("first_response_at"),
        status_updated_at=iso("status_updated_at"),
        reopened_at=iso("reopened_at"),
        resolved_at=iso("resolved_at"),
        closed_at=iso("closed_at"),
        pending_since=iso(pl.when(pending).then(pl.col("status_updated_at"))),
    )
    core = pl.struct(
        fr_escalated=False,
        spam=False,
        email_config_id=pl.lit(None, dtype=pl.Int64),
        group_id="group_id",
        priority=pl.col("priority").replace_strict(PRIORITY_CODE),
        requester_id="requester_id",
        responder_id="responder_id",
        source=pl.col("channel").replace_strict(SOURCE_CODE),
        company_id="company_id",
        status=pl.col("status").replace_strict(STATUS_CODE),
        subject="subject",
        association_type=pl.lit(None, dtype=pl.Int64),
        support_email=pl.lit(SUPPORT_EMAIL),
        product_id=pl.lit(None, dtype=pl.Int64),
        id="ticket_id",
        type=pl.lit("Question"),
        is_escalated=False,
        created_at=iso("created_at"),
        updated_at=iso("updated_at"),
        tags="tags",
        description=html(pl.col("description")),
        description_text="description",
        requester=pl.struct(
            id="requester_id",
            name=display_name("customer"),
            email="customer",
            mobile=pl.lit(None, dtype=pl.String),
            phone=pl.lit(None, dtype=pl.String),
        ),
        stats=stats,
        nr_escalated=False,
    ).struct.json_encode()
    return _with_raw(
        core, ',"cc_emails":[],"fwd_emails":[],"reply_cc_emails":[],"ticket_cc_emails":[],"custom_fields":{}'
    )


def _answer(question: str, column: str) -> pl.Expr:
    """``,"<question>":<answer>``, or nothing when the question was not answered."""
    return pl.concat_str([pl.lit(f',"{question}":'), pl.col(column).cast(pl.String)]).fill_null("")


def _rating_json() -> pl.Expr:
    core = pl.struct(
        id=RATING_ID_BASE + pl.col("ticket_id"),
        survey_id=pl.lit(SURVEY_ID),
        user_id="requester_id",
        agent_id="responder_id",
        feedback=pl.lit(None, dtype=pl.String),
        group_id="group_id",
        ticket_id="ticket_id",
        created_at=iso("resolved_at"),
        updated_at=iso("resolved_at"),
    ).struct.json_encode()
    default = pl.col("csat").cast(pl.Int64).replace_strict(RATING_OF_CSAT).cast(pl.String)
    ratings = [pl.lit(',"ratings":{"default_question":'), default]
    ratings += [_answer(NPS_QUESTION, "nps"), _answer(CES_QUESTION, "ces"), pl.lit("}")]
    return pl.concat_str([core.str.strip_suffix("}"), *ratings, pl.lit("}")])


def _conversations(tickets: pl.DataFrame, events: pl.DataFrame) -> pl.DataFrame:
    """Every message after the ticket's description, with who wrote it."""
    messages = events.join(
        tickets.select(
            "interaction_id", "ticket_id", "requester_id", "responder_id", "customer", "created_at"
        ),
        on="interaction_id",
        how="inner",
        maintain_order="left",
    ).filter(
        pl.col("type").is_in([EventType.AGENT_REPLY, EventType.INTERNAL_NOTE])
        | ((pl.col("type") == EventType.CUSTOMER_MESSAGE) & (pl.col("at") > pl.col("created_at")))
    )
    return messages.with_columns(
        conversation_id=CONVERSATION_ID_BASE
        + pl.col("ticket_id") * 100
        + pl.int_range(pl.len()).over("ticket_id")
    )


def _conversation_json() -> pl.Expr:
    incoming = pl.col("type") == EventType.CUSTOMER_MESSAGE
    private = pl.col("type") == EventType.INTERNAL_NOTE
    return _with_raw(
        pl.struct(
            body=html(pl.col("body")),
            body_text="body",
            id="conversation_id",
            incoming=incoming,
            private=private,
            user_id=pl.when(incoming).then(pl.col("requester_id")).otherwise(pl.col("responder_id")),
            support_email=pl.lit(SUPPORT_EMAIL),
            source=pl.when(private).then(pl.lit(2)).otherwise(pl.lit(0)),
            to_emails=pl.when(private)
            .then(pl.lit(None, dtype=pl.List(pl.String)))
            .when(incoming)
            .then(pl.concat_list(pl.lit(SUPPORT_EMAIL)))
            .otherwise(pl.concat_list("customer")),
            from_email=pl.when(incoming)
            .then(pl.col("customer"))
            .when(private)
            .then(pl.lit(None, dtype=pl.String))
            .otherwise(pl.lit(f"Demo Retail <{SUPPORT_EMAIL}>")),
            created_at=iso("at"),
            updated_at=iso("at"),
            ticket_id="ticket_id",
            auto_response=False,
        ).struct.json_encode(),
        _NO_RECIPIENTS,
    )
