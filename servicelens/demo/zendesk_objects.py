"""The objects of the Zendesk Support API as the demo writes them: tickets, users, groups, organizations,
ticket metrics, satisfaction ratings and ticket audits, each a JSON text column built with polars.

Ticket ids are the demo's external ids; other ids are derived from the demo's numbering (agent, team, site,
customer number), so every file names the same user the same way. Zendesk rates satisfaction only
good / bad: CSAT 4-5 is written as ``good``, 1-2 as ``bad``, 3 as an offered survey without a score. NPS
and CES answers are in two numeric ticket custom fields (``NPS_FIELD_ID``, ``CES_FIELD_ID``), as a survey
integration writes them; the ticket's ``custom_fields`` and ``fields`` list both, empty ones as ``null``.
"""

from __future__ import annotations

import polars as pl

from servicelens.demo.organisation import AGENTS, LOCATIONS, TEAMS
from servicelens.demo.vendor_json import display_name, iso
from servicelens.model import EventType

BASE_URL = "https://demo-retail.zendesk.com/api/v2"
SYSTEM_USER_ID = -1  # Zendesk's author id for changes made by triggers and automations
AGENT_ID_BASE = 361_000_000_000
END_USER_ID_BASE = 362_000_000_000
GROUP_ID_BASE = 360_000_100_000
ORGANIZATION_ID_BASE = 360_000_200_000
METRIC_ID_BASE = 370_000_000_000
RATING_ID_BASE = 380_000_000_000
AUDIT_ID_BASE = 400_000_000_000_000
NPS_FIELD_ID = 360_000_300_001  # ticket custom fields the survey integration fills
CES_FIELD_ID = 360_000_300_002
VIA_CHANNEL = {"email": "email", "chat": "chat", "phone": "voice", "web": "web_form", "social": "facebook"}
STATUS = {
    "new": "new",
    "open": "open",
    "pending": "pending",
    "on_hold": "hold",
    "solved": "solved",
    "closed": "closed",
}
_VIA_TAIL = '","source":{"from":{},"to":{},"rel":null}}'
_EMPTY_LISTS = "".join(
    f',"{name}":[]'
    for name in (
        "collaborator_ids",
        "follower_ids",
        "email_cc_ids",
        "sharing_agreement_ids",
        "followup_ids",
    )
)


def _with_raw(json: pl.Expr, *raw: pl.Expr | str) -> pl.Expr:
    """Append raw JSON members (``,"key":value``) to a JSON object column."""
    parts = [p if isinstance(p, pl.Expr) else pl.lit(p) for p in raw]
    return pl.concat_str([json.str.strip_suffix("}"), *parts, pl.lit("}")])


def _via(channel: pl.Expr) -> pl.Expr:
    return pl.concat_str([pl.lit('{"channel":"'), channel, pl.lit(_VIA_TAIL)])


def _url(kind: str, id_column: str) -> pl.Expr:
    return pl.concat_str([pl.lit(f"{BASE_URL}/{kind}/"), pl.col(id_column).cast(pl.String), pl.lit(".json")])


def html_body(text: pl.Expr) -> pl.Expr:
    escaped = (
        text.str.replace_all("&", "&amp;", literal=True)
        .str.replace_all("<", "&lt;", literal=True)
        .str.replace_all(">", "&gt;", literal=True)
        .str.replace_all("\n", "<br>", literal=True)
    )
    return pl.concat_str(
        [pl.lit('<div class="zd-comment" dir="auto"><p dir="auto">'), escaped, pl.lit("</p></div>")]
    )


def reference_objects(stamp: pl.Expr) -> dict[str, pl.DataFrame]:
    """The agents, groups and organizations of the Zendesk sites as JSON objects, by id."""
    zendesk_sites = [i for i, loc in enumerate(LOCATIONS) if loc.helpdesk == "zendesk"]
    site_names = {LOCATIONS[i].name for i in zendesk_sites}
    groups = pl.DataFrame({"id": [GROUP_ID_BASE + i for i in range(len(TEAMS))], "name": list(TEAMS)})
    orgs = pl.DataFrame(
        {
            "id": [ORGANIZATION_ID_BASE + i for i in zendesk_sites],
            "name": [LOCATIONS[i].name for i in zendesk_sites],
        }
    )
    staff = [(i, a) for i, a in enumerate(AGENTS) if a.location in site_names]
    agents = pl.DataFrame(
        {
            "id": [AGENT_ID_BASE + i for i, _ in staff],
            "name": [a.name for _, a in staff],
            "default_group_id": [GROUP_ID_BASE + TEAMS.index(a.team) for _, a in staff],
        }
    ).with_columns(email=pl.col("name").str.to_lowercase().str.replace(" ", ".") + "@demo-retail.example")
    return {
        "groups": groups.select("id", json=pl.struct(url=_url("groups", "id"), id="id", is_public=True, name="name",
            description=pl.lit(""), default=False, deleted=False, created_at=stamp, updated_at=stamp).struct.json_encode()),
        "organizations": orgs.select("id", json=_with_raw(pl.struct(
            url=_url("organizations", "id"), id="id", name="name", shared_tickets=False, shared_comments=False,
            external_id=pl.lit(None, dtype=pl.String), created_at=stamp, updated_at=stamp, details=pl.lit(None, dtype=pl.String),
            notes=pl.lit(None, dtype=pl.String), group_id=pl.lit(None, dtype=pl.Int64)).struct.json_encode(),
            ',"domain_names":[],"tags":[],"organization_fields":{}')),
        "agents": agents.select("id", json=pl.struct(
            url=_url("users", "id"), id="id", name="name", email="email", role=pl.lit("agent"), active=True,
            verified=True, locale=pl.lit("en-GB"), default_group_id="default_group_id", created_at=stamp,
            updated_at=stamp).struct.json_encode()),
    }  # fmt: skip


def user_json(stamp: pl.Expr) -> pl.Expr:
    """The requester as a Zendesk end user: a display name and the e-mail address."""
    return pl.struct(
        url=_url("users", "requester_id"), id="requester_id", name=display_name("customer"), email="customer",
        role=pl.lit("end-user"), active=True, verified=True, locale=pl.lit("en-GB"),
        default_group_id=pl.lit(None, dtype=pl.Int64), created_at=stamp, updated_at=stamp,
    ).struct.json_encode()  # fmt: skip


def _satisfaction(tickets_csat: pl.Expr) -> pl.Expr:
    rating_id = (RATING_ID_BASE + pl.col("ticket_id")).cast(pl.String)
    scored = pl.concat_str([pl.lit('{"id":'), rating_id, pl.lit(',"score":"'),
                            pl.when(tickets_csat >= 4).then(pl.lit("good")).otherwise(pl.lit("bad")),
                            pl.lit('","comment":null}')])  # fmt: skip
    return (
        pl.when(tickets_csat.is_not_null() & (tickets_csat != 3))
        .then(scored)
        .when(pl.col("resolved_at").is_not_null())
        .then(pl.lit('{"score":"offered"}'))
        .otherwise(pl.lit('{"score":"unoffered"}'))
    )


def _survey_fields() -> pl.Expr:
    """``[{"id":..,"value":..}, ..]`` of the NPS and CES custom fields (``null`` when not answered)."""
    return pl.concat_str(
        [
            pl.lit(f'[{{"id":{NPS_FIELD_ID},"value":'),
            pl.col("nps").cast(pl.String).fill_null("null"),
            pl.lit(f'}},{{"id":{CES_FIELD_ID},"value":'),
            pl.col("ces").cast(pl.String).fill_null("null"),
            pl.lit("}]"),
        ]
    )


def ticket_json() -> pl.Expr:
    core = pl.struct(
        url=_url("tickets", "ticket_id"),
        id="ticket_id",
        external_id=pl.lit(None, dtype=pl.String),
        created_at=iso("created_at"),
        updated_at=iso("updated_at"),
        generated_timestamp=pl.col("updated_at").dt.epoch("s"),
        type=pl.lit("question"),
        subject="subject",
        raw_subject="subject",
        description="description",
        priority="priority",
        status=pl.col("status").replace_strict(STATUS),
        recipient=pl.lit(None, dtype=pl.String),
        requester_id="requester_id",
        submitter_id="requester_id",
        assignee_id="assignee_id",
        organization_id="organization_id",
        group_id="group_id",
        forum_topic_id=pl.lit(None, dtype=pl.Int64),
        problem_id=pl.lit(None, dtype=pl.Int64),
        has_incidents=False,
        is_public=True,
        due_at=pl.lit(None, dtype=pl.String),
        tags="tags",
        allow_channelback=False,
        allow_attachments=True,
        from_messaging_channel=pl.col("channel") == "chat",
    ).struct.json_encode()
    return _with_raw(
        core,
        pl.concat_str([pl.lit(',"via":'), _via(pl.col("channel").replace_strict(VIA_CHANNEL))]),
        pl.concat_str([pl.lit(',"satisfaction_rating":'), _satisfaction(pl.col("csat"))]),
        pl.concat_str([pl.lit(',"custom_fields":'), _survey_fields()]),
        pl.concat_str([pl.lit(',"fields":'), _survey_fields()]),
        _EMPTY_LISTS,
    )


def _minutes(start: str, end: str | pl.Expr) -> pl.Expr:
    """A Zendesk duration object in whole calendar minutes (cut down, as the API reports it)."""
    stop = pl.col(end) if isinstance(end, str) else end
    minutes = ((stop - pl.col(start)).dt.total_seconds() // 60).cast(pl.Int64)
    return pl.struct(calendar=minutes)


def metric_json() -> pl.Expr:
    full = pl.when(pl.col("status").is_in(["solved", "closed"])).then(pl.col("resolved_at"))
    return pl.struct(
        url=_url("ticket_metrics", "metric_id"),
        id="metric_id",
        ticket_id="ticket_id",
        created_at=iso("created_at"),
        updated_at=iso("updated_at"),
        group_stations=pl.lit(1),
        assignee_stations=pl.lit(1),
        reopens="reopens",
        replies="replies",
        requester_updated_at=iso("requester_updated_at"),
        status_updated_at=iso("status_updated_at"),
        initially_assigned_at=iso("created_at"),
        assigned_at=iso("created_at"),
        solved_at=iso("resolved_at"),
        latest_comment_added_at=iso("latest_comment_added_at"),
        reply_time_in_minutes=_minutes("created_at", "first_response_at"),
        first_resolution_time_in_minutes=_minutes("created_at", "first_solved"),
        full_resolution_time_in_minutes=_minutes("created_at", full),
    ).struct.json_encode()


def rating_json() -> pl.Expr:
    return pl.struct(
        url=_url("satisfaction_ratings", "rating_id"),
        id="rating_id",
        assignee_id="assignee_id",
        group_id="group_id",
        requester_id="requester_id",
        ticket_id="ticket_id",
        score=pl.when(pl.col("csat") >= 4).then(pl.lit("good")).otherwise(pl.lit("bad")),
        created_at=iso("resolved_at"),
        updated_at=iso("resolved_at"),
        comment=pl.lit(None, dtype=pl.String),
    ).struct.json_encode()


def audit_objects(tickets: pl.DataFrame, events: pl.DataFrame) -> pl.DataFrame:
    """One audit per ticket and instant; its events are the comments and field changes of that instant."""
    ids = tickets.select("interaction_id", "ticket_id", "requester_id", "assignee_id", "group_id", "organization_id",
                   "priority", "subject", "channel", "customer")  # fmt: skip
    e = (
        events.with_columns(order=pl.int_range(pl.len()))
        .join(ids, on="interaction_id", how="inner", maintain_order="left")
        .with_columns(
            audit_no=(pl.col("at").rank("dense").over("interaction_id") - 1).cast(pl.Int64),
            author_id=pl.when(pl.col("author") == pl.col("customer"))
            .then(pl.col("requester_id"))
            .when(pl.col("author") == "system")
            .then(pl.lit(SYSTEM_USER_ID))
            .otherwise(pl.col("assignee_id")),
        )
    )
    status_events = e.filter(pl.col("type") == EventType.STATUS_CHANGE).with_columns(
        previous=pl.col("status").shift(1).over("interaction_id")
    )
    e = e.filter(pl.col("type") != EventType.STATUS_CHANGE).with_columns(
        previous=pl.lit(None, dtype=pl.String)
    )
    e = pl.concat([e, status_events]).sort("interaction_id", "order")
    is_comment = pl.col("type").is_in(
        [EventType.CUSTOMER_MESSAGE, EventType.AGENT_REPLY, EventType.INTERNAL_NOTE]
    )
    entries = e.select(
        "ticket_id", "audit_no", "at", "order", "author_id", "channel",
        kind=pl.when(is_comment).then(pl.lit("Comment"))
        .when(pl.col("previous").is_null()).then(pl.lit("Create")).otherwise(pl.lit("Change")),
        field_name=pl.when(pl.col("type") == EventType.ASSIGNMENT).then(pl.lit("assignee_id"))
        .when(pl.col("type") == EventType.STATUS_CHANGE).then(pl.lit("status")),
        value=pl.when(pl.col("type") == EventType.ASSIGNMENT).then(pl.col("assignee_id").cast(pl.String))
        .otherwise(pl.col("status").replace_strict(STATUS, default=None)),
        previous_value=pl.col("previous").replace_strict(STATUS, default=None),
        body="body",
        public=pl.col("type") != EventType.INTERNAL_NOTE,
    )  # fmt: skip
    # The creating audit also sets the ticket's other fields, as Zendesk records them.
    created_fields = [("requester_id", "requester_id"), ("group_id", "group_id"),
                      ("organization_id", "organization_id"), ("priority", "priority"), ("subject", "subject")]  # fmt: skip
    first_rows = (
        e.filter(pl.col("audit_no") == 0)
        .group_by("ticket_id", maintain_order=True)
        .agg(
            pl.col("at", "author_id", "channel", "order").first(),
            *(pl.col(column).first().cast(pl.String).alias(f"f_{field}") for field, column in created_fields),
        )
    )
    creates = pl.concat(
        [
            first_rows.select(
                "ticket_id", audit_no=pl.lit(0, dtype=pl.Int64), at="at", order=pl.col("order") + 0.5 + k / 100,
                author_id="author_id", channel="channel", kind=pl.lit("Create"), field_name=pl.lit(field),
                value=pl.col(f"f_{field}"), previous_value=pl.lit(None, dtype=pl.String),
                body=pl.lit(None, dtype=pl.String), public=pl.lit(True),
            )
            for k, (field, _) in enumerate(created_fields)
        ]
    )  # fmt: skip
    entries = pl.concat([entries.with_columns(pl.col("order").cast(pl.Float64)), creates]).sort(
        "ticket_id", "order"
    )
    audit_id = AUDIT_ID_BASE + pl.col("ticket_id") * 1000 + pl.col("audit_no") * 32
    entries = entries.with_columns(
        audit_id=audit_id, event_id=audit_id + 1 + pl.int_range(pl.len()).over("ticket_id", "audit_no")
    )
    comment = _with_raw(
        pl.struct(id="event_id", type=pl.lit("Comment"), author_id="author_id", body="body",
                  html_body=html_body(pl.col("body")), plain_body="body", public="public",
                  audit_id="audit_id").struct.json_encode(),
        ',"attachments":[]',
    )  # fmt: skip
    create = pl.struct(
        id="event_id", type=pl.lit("Create"), value="value", field_name="field_name"
    ).struct.json_encode()
    change = pl.struct(id="event_id", type=pl.lit("Change"), value="value", field_name="field_name",
                       previous_value="previous_value").struct.json_encode()  # fmt: skip
    entries = entries.with_columns(
        event_json=pl.when(pl.col("kind") == "Comment").then(comment)
        .when(pl.col("kind") == "Create").then(create).otherwise(change)
    )  # fmt: skip
    audits = entries.group_by("ticket_id", "audit_no", maintain_order=True).agg(
        pl.col("audit_id", "at", "author_id", "channel").first(), events=pl.col("event_json").str.join(",")
    )
    via = (
        pl.when(pl.col("author_id") == SYSTEM_USER_ID).then(pl.lit("rule"))
        .when(pl.col("author_id") >= END_USER_ID_BASE).then(pl.col("channel").replace_strict(VIA_CHANNEL))
        .otherwise(pl.lit("web"))
    )  # fmt: skip
    head = pl.struct(
        id="audit_id", ticket_id="ticket_id", created_at=iso("at"), author_id="author_id"
    ).struct.json_encode()
    return audits.select(
        "ticket_id",
        json=_with_raw(head, ',"metadata":{"system":{},"custom":{}},"events":[', pl.col("events"), "]",
                       pl.concat_str([pl.lit(',"via":'), _via(via)])),
    )  # fmt: skip
