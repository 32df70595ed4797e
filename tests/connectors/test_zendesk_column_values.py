"""Each column helper of the column-wise Zendesk mapping gives, for every value it does not set aside as
odd, exactly what the per-value helper of the per-ticket mapping gives."""

from __future__ import annotations

import json
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.parsing import RecordError, id_text, text_or_none, to_utc
from connectors.zendesk import parse_zendesk_file
from connectors.zendesk_context import ZendeskContext, decode_zendesk_file
from connectors.zendesk_values import (
    PYTHON_WHITESPACE,
    int_column,
    map_distinct,
    stripped_text,
    tags_column,
    text_column,
    utc_column,
)
from tests.connectors.zendesk_generated import ANY_TIMES, ODD, assert_same_as_one_by_one, zendesk_config

TRICKY_TIMES: list[Any] = [
    "2025-01-06T08:00:00Z",
    "2025-01-06T08:00:00.5Z",
    "2025-01-06T08:00:00.123456+05:30",
    "2025-01-06T08:00:00.1234567Z",
    "2025-01-06T08:00:00",
    "2025-01-06T08:00:00,5Z",
    "2025-01-06 08:00:00Z",
    "20250106T080000Z",
    "2025-01-06T08:00Z",
    "2025-01-06",
    "2024-02-29T00:00:00Z",
    "2025-02-29T00:00:00Z",
    "2025-13-01T00:00:00Z",
    "2025-01-06T23:59:60Z",
    "2025-01-06T24:00:00Z",
    "2025-01-06T08:00:00+24:00",
    "2025-01-06T08:00:00+23:59",
    "2025-01-06T08:00:00+05:75",
    "2025-01-06T08:00:00+0530",
    "9999-12-31T23:59:59-01:00",
    "0001-01-01T00:00:00+01:00",
    "0000-01-01T00:00:00Z",
    "2025-01-06T08:00:00Z\n",
    " 2025-01-06T08:00:00Z",
    "2025-01-06T08:00:00z",
    "２０２５-01-06T08:00:00Z",
    "",
    " ",
    None,
    0,
    1_736_150_400,
    1_736_150_400_123,
    1.5,
    True,
    10**20,
    [],
]


def _to_utc_or_failure(value: Any) -> datetime | str | None:
    try:
        return to_utc(value, "at")
    except Exception:
        return "failed"


def _assert_reads_as_to_utc(values: list[Any]) -> None:
    failed: set[int] = set()
    column = utc_column(values, "at", failed)
    assert column.dtype == pl.Datetime("us", "UTC") and column.len() == len(values)
    for position, (value, got) in enumerate(zip(values, column.to_list(), strict=True)):
        expected = _to_utc_or_failure(value)
        if expected == "failed":
            assert position in failed, value
        else:
            assert position not in failed and got == expected, value


def test_tricky_timestamps_read_as_to_utc_reads_them() -> None:
    _assert_reads_as_to_utc(TRICKY_TIMES)
    _assert_reads_as_to_utc([v for v in TRICKY_TIMES if isinstance(v, str)])  # the all-text path
    _assert_reads_as_to_utc(["2025-01-06T08:00:00Z"] * 3)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(ANY_TIMES, st.text(alphabet="0123456789-T:Z+. ", max_size=26)), max_size=30))
def test_generated_timestamps_read_as_to_utc_reads_them(values: list[Any]) -> None:
    _assert_reads_as_to_utc(values)


TAG_LISTS = st.one_of(
    st.lists(st.one_of(st.text(max_size=4), st.sampled_from(["\x1f", "a\x1fb", ""])), max_size=4),
    st.lists(ODD, max_size=3),
    ODD,
    st.just({"vip": 1}),
    st.just(()),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(TAG_LISTS, max_size=12) | st.lists(TAG_LISTS, min_size=20, max_size=60))
def test_tags_as_the_per_ticket_mapping_lists_them(values: list[Any]) -> None:
    _assert_tags_as_listed(values)


def test_many_distinct_tag_lists_are_split_by_polars() -> None:
    values: list[Any] = [[f"tag{n}", ""] for n in range(30)] + [[], [""], None, "vip", [1]]
    _assert_tags_as_listed(values * 2)
    _assert_tags_as_listed([*values, ["a\x1fb"]])  # a tag holding the separator
    _assert_tags_as_listed([["vip"]] * 50 + [[], [""]])


def _assert_tags_as_listed(values: list[Any]) -> None:
    odd: set[int] = set()
    column = tags_column(values, odd)
    assert column.dtype == pl.List(pl.String) and column.len() == len(values)
    for position, (value, got) in enumerate(zip(values, column.to_list(), strict=True)):
        clean = not value or (type(value) is list and all(type(t) is str for t in value))
        assert (position in odd) is not clean
        if clean:
            assert got == [str(t) for t in value or []]


ODD_OR_OBJECT = st.one_of(ODD, st.just({"a": 1}), st.just([1]), st.just(["a"]))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.integers(-(2**64), 2**64), ODD_OR_OBJECT), max_size=12), st.booleans())
def test_whole_numbers_are_kept_exactly(values: list[Any], required: bool) -> None:
    odd: set[int] = set()
    column = int_column(values, odd, required=required)
    for position, (value, got) in enumerate(zip(values, column.to_list(), strict=True)):
        clean = (value is None and not required) or (type(value) is int and -(2**63) <= value < 2**63)
        assert (position in odd) is not clean
        if clean:
            assert got == value and (value is None or id_text(value) == str(got))


@settings(max_examples=300, deadline=None)
@given(st.lists(ODD_OR_OBJECT, max_size=12))
def test_texts_are_kept_exactly(values: list[Any]) -> None:
    odd: set[int] = set()
    column = text_column(values, odd)
    for position, (value, got) in enumerate(zip(values, column.to_list(), strict=True)):
        clean = value is None or type(value) is str
        assert (position in odd) is not clean
        if clean:
            assert got == value


def test_python_whitespace_is_what_str_strip_strips() -> None:
    assert set(PYTHON_WHITESPACE) == {chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()}


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.one_of(st.text(max_size=6), st.sampled_from(list(PYTHON_WHITESPACE)), st.none()), max_size=10)
)
def test_subjects_strip_as_text_or_none(values: list[str | None]) -> None:
    texts = pl.Series(values, dtype=pl.String)
    got = pl.select(stripped_text(pl.lit(texts))).to_series().to_list()
    assert got == [text_or_none(value) for value in values]


def test_distinct_values_are_mapped_once_and_refusals_are_left() -> None:
    calls: list[Any] = []

    def mapping(value: Any) -> str:
        calls.append(value)
        if value == "bad":
            raise RecordError("status", "unknown")
        return f"<{value}>"

    left: set[int] = set()
    column = pl.Series(["a", None, "bad", "a", None, "b"], dtype=pl.String)
    got = map_distinct(column, mapping, pl.String(), left)
    assert got.to_list() == ["<a>", "<None>", None, "<a>", "<None>", "<b>"]
    assert sorted(calls, key=str) == sorted(["a", None, "bad", "b"], key=str) and left == {2}
    with pytest.raises(RecordError):
        map_distinct(column, mapping, pl.String())


@pytest.mark.parametrize("refuse_null", [False, True])
def test_a_column_of_nulls_is_mapped_with_one_call(refuse_null: bool) -> None:
    calls: list[Any] = []

    def mapping(value: Any) -> int:
        calls.append(value)
        if refuse_null:
            raise RecordError("priority", "required")
        return 7

    left: set[int] = set()
    got = map_distinct(pl.Series("p", [None, None, None], dtype=pl.String), mapping, pl.Int8(), left)
    assert calls == [None] and got.name == "p" and got.dtype == pl.Int8
    assert got.to_list() == ([None] * 3 if refuse_null else [7] * 3)
    assert left == ({0, 1, 2} if refuse_null else set())
    assert map_distinct(pl.Series([], dtype=pl.String), mapping, pl.Int8()).to_list() == []


TICKET_IDS = st.one_of(st.integers(1, 4), st.sampled_from(["3", "", 3.0, 2**64, None]), ODD)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries({}, optional={"id": TICKET_IDS, "requester_id": TICKET_IDS, "status": ODD}),
        max_size=8,
    )
)
def test_ticket_ids_and_requesters_join_the_context_as_before(tickets: list[dict[str, Any]]) -> None:
    """As the per-record code registered the decoded tickets: every id, and the last requester of each."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "page.json"
        path.write_text(json.dumps({"tickets": tickets}))
        decoded = decode_zendesk_file(path)
    records = decoded.tickets.records(list(range(decoded.tickets.height)))
    assert records is not None
    ids: set[str] = set()
    requesters: dict[str, str] = {}
    for record in records:
        ticket = record.data or {}
        ticket_id = id_text(ticket.get("id"))
        if ticket_id is not None:
            ids.add(ticket_id)
            if requester := id_text(ticket.get("requester_id")):
                requesters[ticket_id] = requester
    context = ZendeskContext()
    context.add_decoded(decoded)
    assert context.tickets == ids
    assert context.requesters == requesters


METRIC_EDGES = [
    {"reopens": 2**31 - 1},
    {"reopens": 2**31},
    {"reopens": -(2**31) - 1},
    {"reopens": "2"},
    {"reopens": True},
    {"reply_time_in_minutes": {"calendar": 10_000_000}},
    {"reply_time_in_minutes": {"calendar": 10_000_001}},
    {"reply_time_in_minutes": {"calendar": 2**62}},
    {"reply_time_in_minutes": {"calendar": -(2**62)}},
    {"reply_time_in_minutes": {"calendar": 1.5}},
    {"reply_time_in_minutes": {"calendar": "30"}},
    {"reply_time_in_minutes": {"calendar": None, "business": 3}},
    {"reply_time_in_minutes": 30},
    {"solved_at": "2025-02-30T00:00:00Z"},
    {"solved_at": 1_736_150_400},
]
CREATED_EDGES = [
    "2025-01-06T08:00:00Z",
    "8999-12-31T23:00:00Z",
    "9000-01-01T00:00:00Z",
    "1000-01-01T00:00:00Z",
]


@pytest.mark.parametrize("created_at", CREATED_EDGES)
@pytest.mark.parametrize("metric", METRIC_EDGES, ids=lambda m: json.dumps(m))
def test_metric_edges_map_alike(tmp_path: Path, metric: dict[str, Any], created_at: str) -> None:
    page = tmp_path / "page.json"
    tickets = [
        {"id": 1, "status": "open", "created_at": "2025-01-06T08:00:00Z"},
        {"id": 2, "status": "open", "created_at": created_at, "updated_at": created_at},
    ]
    page.write_text(json.dumps({"tickets": tickets, "metric_sets": [{"ticket_id": 2, **metric}]}))
    assert_same_as_one_by_one(page, zendesk_config())


def test_created_times_far_from_now_keep_their_reply_time(tmp_path: Path) -> None:
    page = tmp_path / "page.json"
    ticket = {"id": 1, "status": "open", "created_at": "2025-01-06T08:00:00Z"}
    page.write_text(
        json.dumps(
            {
                "tickets": [ticket],
                "metric_sets": [{"ticket_id": 1, "reply_time_in_minutes": {"calendar": 90}}],
            }
        )
    )
    row = parse_zendesk_file(page, zendesk_config()).batch.interactions.row(0, named=True)
    assert row["first_response_at"] == datetime(2025, 1, 6, 9, 30, tzinfo=UTC)
