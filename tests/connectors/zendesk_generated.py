"""Zendesk exports for the column-wise mapping tests: the per-ticket reference, a comparison of both
mappings, and generated tickets in the shapes Zendesk writes and in odd ones."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest.mock import patch

import polars as pl
from hypothesis import strategies as st

import connectors.zendesk
from connectors.config import ZendeskFilesConfig
from connectors.parsing import ParsedFile, interaction_frame_schema
from connectors.zendesk import parse_zendesk_file
from connectors.zendesk_columns import TicketColumns
from connectors.zendesk_context import collect_zendesk_context

API_EXPORT = "zendesk_api_export"
CUSTOM_FIELD = 360001


def zendesk_config(**extra: object) -> ZendeskFilesConfig:
    return ZendeskFilesConfig.model_validate({"kind": "zendesk_files", "name": "zd", "path": "x", **extra})


CONFIGS = {
    "default": zendesk_config(),
    "overrides": zendesk_config(
        location_field=str(CUSTOM_FIELD),
        status_map={"escalated": "open", "hold": "pending"},
        priority_map={"critical": "urgent"},
        channel_map={"api": "web"},
        nps_field=CUSTOM_FIELD + 1,
        ces_field=CUSTOM_FIELD + 2,
        csat_bad=2,
        source="helpdesk",
    ),
    "deleted_rejected": zendesk_config(deleted_tickets="reject"),
}


@contextmanager
def one_by_one() -> Iterator[None]:
    """The reference: every ticket mapped by ``map_ticket``, none column-wise."""

    def nothing_mapped(columns: TicketColumns, *_: object) -> tuple[pl.DataFrame, list[int]]:
        return pl.DataFrame(schema=interaction_frame_schema()), list(range(columns.height))

    with patch.object(connectors.zendesk, "map_ticket_columns", nothing_mapped):
        yield


def _parse(path: Path, config: ZendeskFilesConfig, folder: list[Path] | None) -> ParsedFile | Exception:
    context = collect_zendesk_context(folder) if folder is not None else None
    try:
        return parse_zendesk_file(path, config, context)
    except Exception as exc:  # the per-ticket mapping fails some odd files; both must then fail alike
        return exc


def assert_same_as_one_by_one(
    path: Path, config: ZendeskFilesConfig, folder: list[Path] | None = None
) -> None:
    columns = _parse(path, config, folder)
    with one_by_one():
        reference = _parse(path, config, folder)
    if isinstance(reference, Exception):
        assert isinstance(columns, Exception), f"expected {reference!r}"
        assert type(columns) is type(reference) and str(columns) == str(reference)
        return
    assert not isinstance(columns, Exception), columns
    mine, theirs = columns.batch, reference.batch
    assert mine.interactions.schema == theirs.interactions.schema
    assert mine.interactions.equals(theirs.interactions), _first_difference(
        mine.interactions, theirs.interactions
    )
    assert mine.events.equals(theirs.events)
    assert mine.rejections == theirs.rejections
    assert (columns.schedules, columns.sla_policies) == (reference.schedules, reference.sla_policies)
    assert columns.other_streams == reference.other_streams


def assert_parsed_alike(mine: list[Any], theirs: list[Any]) -> None:
    """Files parsed two ways (each a :class:`ParsedFile`, or the text of the error it raised) alike."""
    for got, expected in zip(mine, theirs, strict=True):
        if isinstance(expected, str):
            assert got == expected
            continue
        assert not isinstance(got, str), got
        assert got.batch.interactions.equals(expected.batch.interactions)
        assert got.batch.events.equals(expected.batch.events)
        assert got.batch.rejections == expected.batch.rejections
        assert (got.schedules, got.sla_policies, got.other_streams) == (
            expected.schedules,
            expected.sla_policies,
            expected.other_streams,
        )


def _first_difference(mine: pl.DataFrame, theirs: pl.DataFrame) -> str:
    if mine.height != theirs.height:
        return f"{mine.height} rows, expected {theirs.height}: {mine['_row'].to_list()} / {theirs['_row'].to_list()}"
    for name in mine.columns:
        for row, (a, b) in enumerate(zip(mine[name].to_list(), theirs[name].to_list(), strict=True)):
            if a != b:
                return f"row {row} column {name}: {a!r}, expected {b!r}"
    return "same values"


def usual_ticket(ticket_id: int) -> dict[str, Any]:
    return {
        "id": ticket_id,
        "status": "open",
        "created_at": "2025-01-01T08:00:00Z",
        "updated_at": "2025-01-01T09:00:00Z",
    }


# Generated exports: tickets in the shapes Zendesk writes, each with up to two fields given any value
# (missing, null, odd JSON types, unknown values, bad timestamps).
ODD = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**65), 2**65), st.floats(allow_nan=False), st.text(max_size=6)
)
ISO_TIMES = st.builds(
    lambda y, mo, d, h, mi, s, fraction, tz: (
        f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}{fraction}{tz}"
    ),
    st.integers(2020, 2026),
    st.integers(1, 12),
    st.integers(1, 28),
    st.integers(0, 23),
    st.integers(0, 59),
    st.integers(0, 59),
    st.sampled_from(["", "", ".5", ".123456"]),
    st.sampled_from(["Z", "Z", "Z", "", "+05:30", "-08:00"]),
)
ANY_TIMES = st.one_of(
    ISO_TIMES,
    st.sampled_from(
        [
            "2025-01-06T08:00:00.1234567Z",
            "2025-01-06T09:00:00-23:59",
            "2025-01-06T09:00:00+24:00",
            "2025-01-06 09:00:00+0100",
            "2025-01-06T08:00:00,5Z",
            "2025-02-30T08:00:00Z",
            "2025-01-06T23:59:60Z",
            "2025-01-06T24:00:00Z",
            "9999-12-31T23:59:59-01:00",
            "0001-01-01T00:00:00+01:00",
            " 2025-01-06T08:00:00Z ",
            "2025-01-06T08:00:00Z\n",
            "06/01/2025 9am",
            "",
        ]
    ),
    st.builds(
        lambda y, mo, d, h, mi, s, tz: f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}{tz}",
        st.integers(990, 3010),
        st.integers(0, 13),
        st.integers(0, 32),
        st.integers(0, 24),
        st.integers(0, 60),
        st.integers(0, 60),
        st.sampled_from(["Z", "", "+05:30", "-00:00", "+23:60"]),
    ),
    st.integers(-(10**13), 10**13),
    ODD,
)
USER_IDS = st.sampled_from([7001, 7002, 7003, 8001, -1])
TAG_WORDS = st.sampled_from(["vip", "billing", "", "a\x1fb", "Été", "deleted"])
CUSTOM_VALUES = st.one_of(
    st.integers(-2, 12), st.sampled_from(["7", " 3 ", "9.0", "LYS-01", "x", ""]), st.none()
)
CUSTOM_FIELDS = st.lists(
    st.fixed_dictionaries(
        {
            "id": st.sampled_from([CUSTOM_FIELD, CUSTOM_FIELD + 1, CUSTOM_FIELD + 2, str(CUSTOM_FIELD), 1]),
            "value": CUSTOM_VALUES,
        }
    ),
    max_size=4,
)
SCORES = st.sampled_from(["good", "bad", "GOOD", "offered", "unoffered", ""])
USUAL = {
    "id": st.integers(1, 6),
    "status": st.sampled_from(["new", "open", "pending", "hold", "solved", "closed", "deleted", "Deleted"]),
    "priority": st.sampled_from(["low", "normal", "high", "urgent", "Urgent", None]),
    "subject": st.one_of(st.text(max_size=8), st.sampled_from(["  Subject \x1c", "\u3000", "Ünïcode\u2028"])),
    "created_at": ISO_TIMES,
    "updated_at": st.one_of(ISO_TIMES, st.none()),
    "requester_id": st.one_of(USER_IDS, st.none()),
    "assignee_id": st.one_of(USER_IDS, st.none()),
    "group_id": st.sampled_from([501, 502, None]),
    "organization_id": st.sampled_from([701, 702, 703, None]),
    "tags": st.lists(TAG_WORDS, max_size=4),
    "via": st.fixed_dictionaries(
        {}, optional={"channel": st.sampled_from(["email", "web", "api", "voice", "x"])}
    ),
    "satisfaction_rating": st.one_of(st.none(), st.fixed_dictionaries({}, optional={"score": SCORES})),
    "custom_fields": CUSTOM_FIELDS,
    "fields": CUSTOM_FIELDS,
}
ANY = {
    "id": st.one_of(st.sampled_from(["7", "", 7.0, 7.5, 2**64]), ODD),
    "status": st.one_of(st.sampled_from([" solved", "SOLVED", "escalated", "", "on_hold", "on-hold"]), ODD),
    "priority": st.one_of(st.sampled_from(["critical", "p1", "", " low"]), ODD),
    "subject": ODD,
    "created_at": ANY_TIMES,
    "updated_at": ANY_TIMES,
    "requester_id": ODD,
    "assignee_id": ODD,
    "group_id": ODD,
    "organization_id": ODD,
    "tags": st.one_of(st.lists(ODD, max_size=3), ODD, st.just({"vip": 1}), st.just("vip")),
    "via": st.one_of(st.fixed_dictionaries({"channel": ODD}), ODD, st.just([1]), st.just({})),
    "satisfaction_rating": st.one_of(st.fixed_dictionaries({"score": ODD}), ODD),
    "custom_fields": st.one_of(
        st.lists(st.fixed_dictionaries({"id": ODD, "value": ODD}), max_size=2), ODD, st.just(["a", "b"])
    ),
    "fields": st.one_of(CUSTOM_FIELDS, ODD),
}
# Most tickets are as Zendesk writes them; some have one or two fields given any value.
ODD_FIELDS: st.SearchStrategy[list[tuple[str, Any]]] = st.one_of(
    st.just([]),
    st.just([]),
    st.lists(
        st.sampled_from(sorted(ANY)).flatmap(lambda name: st.tuples(st.just(name), ANY[name])), max_size=2
    ),
)
TICKETS = st.builds(
    lambda usual, odd: {**usual, **dict(odd)},
    st.fixed_dictionaries({"id": USUAL["id"]}, optional={k: v for k, v in USUAL.items() if k != "id"}),
    ODD_FIELDS,
)


def _metric(ticket_ids: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    calendar = st.one_of(st.integers(0, 600), st.integers(0, 600), st.integers(-(10**8), 10**8), ODD)
    return st.fixed_dictionaries(
        {"ticket_id": ticket_ids},
        optional={
            "reply_time_in_minutes": st.one_of(
                st.fixed_dictionaries({"calendar": calendar}, optional={"business": st.integers(0, 60)}), ODD
            ),
            "solved_at": st.one_of(ISO_TIMES, ISO_TIMES, ANY_TIMES),
            "reopens": st.one_of(st.integers(0, 3), st.integers(0, 3), st.integers(-(2**40), 2**40), ODD),
        },
    )


def _rating(ticket_ids: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {"ticket_id": ticket_ids, "score": st.one_of(SCORES, SCORES, ODD)},
        optional={"updated_at": st.sampled_from(["2025-01-01T00:00:00Z", "2025-02-01T00:00:00Z"])},
    )


USERS = st.fixed_dictionaries(
    {"id": USER_IDS},
    optional={
        "name": st.sampled_from(["Ana Agent", "", "Carl"]),
        "email": st.sampled_from(["carl@example.org", None]),
        "role": st.sampled_from(["agent", "end-user", "admin"]),
    },
)


@st.composite
def pages(draw: st.DrawFn) -> dict[str, Any]:
    """An incremental export page: tickets (and maybe an item that is not an object) with sideloads
    that refer to them: metrics, ratings, users, groups, organizations."""
    tickets: list[Any] = draw(st.lists(TICKETS, min_size=3, max_size=12))
    if draw(st.booleans()):
        tickets.insert(draw(st.integers(0, len(tickets))), draw(ODD))
    ids = [t.get("id") for t in tickets if isinstance(t, dict)] + [99]
    metrics = [draw(_metric(st.just(i))) for i in ids if draw(st.booleans())]
    ratings = [draw(_rating(st.just(i))) for i in ids if draw(st.booleans())]
    page: dict[str, Any] = {"tickets": tickets, "metric_sets": metrics, "satisfaction_ratings": ratings}
    optional = {
        "users": st.lists(USERS, max_size=5),
        "groups": st.just([{"id": 501, "name": "Front Desk"}]),
        "organizations": st.just([{"id": 701, "name": "Lyon"}, {"id": 702, "email": "york@example.org"}]),
    }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            page[key] = draw(strategy)
    page["end_of_stream"] = True
    return page
