"""Plain pages decoded by Arrow give exactly the ticket columns the usual decoding (orjson, then the fields
read out of the records) gives, or nothing: never other values, never a ticket the usual decoding would
leave to the per-ticket mapping, reject or refuse."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.zendesk_arrow import arrow_ticket_columns
from connectors.zendesk_columns import TicketSource, ticket_columns
from connectors.zendesk_context import collect_zendesk_context, read_zendesk_records
from connectors.zendesk_pages import ZendeskFolderParser
from tests.connectors.zendesk_generated import (
    ODD,
    TICKETS,
    USUAL,
    pages,
    usual_ticket,
    zendesk_config,
)


def usual_columns(texts: list[bytes]) -> tuple[list[int], pl.DataFrame] | None:
    """The reference: the pages decoded the usual way; None when that decoding fails, or finds anything
    but tickets it reads column-wise (odd tickets, items that are not objects, other streams)."""
    source = TicketSource()
    counts = []
    with tempfile.TemporaryDirectory() as folder:
        for number, text in enumerate(texts):
            path = Path(folder) / f"tickets-{number}.json"
            path.write_bytes(text)
            try:
                records = read_zendesk_records(path)
            except Exception:  # refused (not JSON, not UTF-8, nested too deep...)
                return None
            if records.streams or records.undecodable:
                return None
            counts.append(len(records.tickets.items))
            source.extend(records.tickets)
    columns = ticket_columns(source, custom_fields=False)
    return None if columns.odd else (counts, columns.frame)


def assert_exact_or_nothing(texts: list[bytes]) -> bool:
    """Arrow's columns equal the usual ones whenever Arrow gives any; whether it gave them."""
    decoded = arrow_ticket_columns(texts)
    if decoded is None:
        return False
    counts, columns = decoded
    reference = usual_columns(texts)
    assert reference is not None, "Arrow decoded pages the usual decoding does not read column-wise"
    assert counts == reference[0]
    assert columns.frame.schema == reference[1].schema
    assert columns.frame.equals(reference[1]), (columns.frame, reference[1])
    assert (columns.odd, columns.custom_fields, columns.source) == ({}, None, None)
    return True


def _dumped(page: Any, style: str) -> bytes:
    if style == "compact":
        return json.dumps(page, separators=(",", ":")).encode()
    if style == "spaced":
        return json.dumps(page).encode()
    if style == "unicode":
        return json.dumps(page, ensure_ascii=False).encode()
    return json.dumps(page, indent=1).encode()  # on several lines: left to the usual decoding


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    documents=st.lists(pages(), min_size=1, max_size=3),
    plain=st.booleans(),
    style=st.sampled_from(["compact", "spaced", "unicode", "unicode", "lines"]),
)
def test_generated_pages_decode_exactly_or_not_at_all(
    documents: list[dict[str, Any]], plain: bool, style: str
) -> None:
    if plain:  # only the tickets: the pages the folder's parser decodes together
        documents = [{"tickets": page["tickets"], "end_of_stream": True} for page in documents]
    assert_exact_or_nothing([_dumped(page, style) for page in documents])


@settings(max_examples=200, deadline=None)
@given(tickets=st.lists(TICKETS, min_size=1, max_size=8), odd=st.lists(ODD, max_size=2))
def test_plain_generated_tickets(tickets: list[dict[str, Any]], odd: list[Any]) -> None:
    page: dict[str, Any] = {"tickets": tickets, "next_page": None, "count": len(tickets), "extra": odd}
    assert_exact_or_nothing([json.dumps(page).encode(), json.dumps({"tickets": tickets[:1]}).encode()])


# Tickets as Zendesk writes them, with every field of a usual type: Arrow must decode all of these.
USUAL_TICKETS = st.fixed_dictionaries(
    {"id": USUAL["id"]}, optional={k: v for k, v in USUAL.items() if k != "id"}
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    documents=st.lists(st.lists(USUAL_TICKETS, max_size=12), min_size=1, max_size=4),
    style=st.sampled_from(["compact", "spaced", "unicode"]),
)
def test_usual_generated_pages_are_decoded_by_arrow(
    documents: list[list[dict[str, Any]]], style: str
) -> None:
    texts = [
        _dumped({"tickets": tickets, "after_cursor": "c", "end_of_stream": False}, style)
        for tickets in documents
    ]
    assert assert_exact_or_nothing(texts)


def _page(*tickets: str, extra: str = "") -> bytes:
    return ('{"tickets":[' + ",".join(tickets) + "]" + extra + "}").encode()


USUAL = json.dumps(usual_ticket(1))


def test_usual_pages_are_decoded_by_arrow() -> None:
    tickets = [
        {
            **usual_ticket(n),
            "tags": ["vip", "Été", ""][: n % 4],
            "via": {"channel": "email", "source": {"from": {}}},
            "satisfaction_rating": {"score": "good", "id": 5} if n % 2 else None,
            "group_id": 501,
            "custom_fields": [{"id": 1, "value": None}],
            "subject": "Ünïcode \u2028 \\u0000 \U0001f600",
        }
        for n in range(1, 6)
    ]
    texts = [
        json.dumps({"tickets": tickets, "after_cursor": "abc", "end_of_stream": False}).encode(),
        json.dumps({"tickets": [], "end_of_stream": True}, ensure_ascii=False).encode() + b"\n",
        b"  " + _page(USUAL) + b" \r\n",
    ]
    assert assert_exact_or_nothing(texts)


def test_what_the_usual_decoding_reads_otherwise_is_left_to_it() -> None:
    cases = {
        "byte order mark": b"\xef\xbb\xbf" + _page(USUAL),
        "not UTF-8 in a field not read": b'{"tickets":[{"id":1,"note":"\xff"}]}',
        "two documents on one line": _page(USUAL) + b" " + _page(USUAL),
        "two documents on two lines": _page(USUAL) + b"\n" + _page(USUAL),
        "several lines": _page(USUAL).replace(b",", b",\n"),
        "a lone surrogate": _page('{"id":1,"note":"\\ud800"}'),
        "NaN": _page('{"id":1,"priority":NaN}'),
        "a duplicated key": _page('{"id":1,"id":2}'),
        "a duplicated key spelled with an escape": _page('{"id":1,"\\u0069d":2}'),
        "a duplicated list": _page(USUAL, extra=',"tickets":[]'),
        "an item that is not an object": _page("null", USUAL),
        "a ticket without an id": _page('{"status":"open"}'),
        "a null tag": _page('{"id":1,"tags":[null]}'),
        "tags that are a text": _page('{"id":1,"tags":"vip"}'),
        "a whole-number float id": _page('{"id":1.0}'),
        "an id beyond 64 bits": _page('{"id":9223372036854775808}'),
        "a boolean id": _page('{"id":true}'),
        "a number as subject": _page('{"id":1,"subject":5}'),
        "a via that is a text": _page('{"id":1,"via":"web"}'),
        "a rating that is a text": _page('{"id":1,"satisfaction_rating":"good"}'),
        "a score that is a number": _page('{"id":1,"satisfaction_rating":{"score":1}}'),
        "another stream's list": _page(USUAL, extra=',"users":[{"id":1}]'),
        "another stream as an object": _page(USUAL, extra=',"ticket_metrics":{}'),
        "no tickets list": b'{"ticket":' + USUAL.encode() + b"}",
        "tickets that are an object": b'{"tickets":' + USUAL.encode() + b"}",
        "an array of pages": b"[" + _page(USUAL) + b"]",
        "nothing": b"",
        "blanks": b"  \n",
        "not JSON": b"{tickets}",
    }
    for name, text in cases.items():
        assert not assert_exact_or_nothing([_page(USUAL), text]), name


@pytest.mark.fixtures
def test_real_export_pages(shared_fixtures: Path) -> None:
    """The real incremental exports decode by Arrow, exactly; the other real files are left alone."""
    decoded = {}
    for path in sorted((shared_fixtures / "zendesk").glob("*.json")):
        decoded[path.name] = assert_exact_or_nothing([path.read_bytes()])
    assert decoded["zenpy_betamax_incremental_tickets_cursor_full.json"]
    assert decoded["zenpy_betamax_incremental_tickets_cursor_per_page1.json"]
    assert not decoded["zenpy_betamax_ticket_audits_page100.json"]


def test_a_null_list_of_another_stream_is_no_stream() -> None:
    assert assert_exact_or_nothing([_page(USUAL, extra=',"users":null,"count":1')])


def test_json_nested_deeper_than_python_decodes_is_the_one_difference() -> None:
    """Documented in connectors.zendesk_arrow: the usual decoding refuses such a page, Arrow reads it."""
    deep = _page('{"id":1,"note":' + "[" * 3000 + "]" * 3000 + "}")
    assert usual_columns([deep]) is None
    decoded = arrow_ticket_columns([deep])
    assert decoded is not None and decoded[1].frame["id"].to_list() == [1]


def _folder(directory: Path, pages: list[list[dict[str, Any]]]) -> list[Path]:
    files = []
    for number, tickets in enumerate(pages):
        path = directory / f"tickets-{number}.json"
        path.write_text(json.dumps({"tickets": tickets, "end_of_stream": number == len(pages) - 1}))
        files.append(path)
    return files


def _parsed_by_folder_and_alone(
    files: list[Path], monkeypatch: Any
) -> tuple[list[Any], list[Any], list[bool]]:
    """Each file parsed by the folder's parser and alone, and whether each of the parser's calls to Arrow
    decoded its pages."""
    import connectors.zendesk_pages as zendesk_pages
    from connectors.zendesk import parse_zendesk_file

    calls: list[bool] = []
    decode = zendesk_pages.arrow_ticket_columns

    def counted(texts: list[bytes]) -> Any:
        decoded = decode(texts)
        calls.append(decoded is not None)
        return decoded

    config = zendesk_config(path=str(files[0].parent))
    with monkeypatch.context() as patched:
        patched.setattr(zendesk_pages, "arrow_ticket_columns", counted)
        parser = ZendeskFolderParser(config, collect_zendesk_context(files, options=config), files)
        together = [parser(path).batch for path in files]
    alone = [parse_zendesk_file(path, config, collect_zendesk_context(files)).batch for path in files]
    return together, alone, calls


def test_the_folder_parser_maps_plain_pages_decoded_by_arrow(tmp_path: Path, monkeypatch: Any) -> None:
    """The folder's parser takes Arrow's columns when it can, and gives what parsing each page alone gives."""
    files = _folder(tmp_path, [[usual_ticket(10 * n + k) for k in range(3)] for n in range(3)])
    together, alone, calls = _parsed_by_folder_and_alone(files, monkeypatch)
    assert calls == [True]
    for mine, theirs in zip(together, alone, strict=True):
        assert mine.interactions.equals(theirs.interactions) and not mine.rejections


def test_tickets_the_columns_leave_are_read_again_from_their_own_pages(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """A ticket the column mapping leaves (an unknown status) keeps its exact rejection, row and raw record;
    only its page is decoded again."""
    pages = [[usual_ticket(10 * n + k) for k in range(3)] for n in range(3)]
    pages[1][2]["status"] = "escalated"
    pages[2][0]["priority"] = "p1"
    files = _folder(tmp_path, pages)
    together, alone, calls = _parsed_by_folder_and_alone(files, monkeypatch)
    assert calls == [True]
    for mine, theirs in zip(together, alone, strict=True):
        assert mine.interactions.equals(theirs.interactions)
        assert mine.rejections == theirs.rejections
    assert [(r.row, r.field) for r in together[1].rejections] == [(3, "status")]
    assert [(r.row, r.field) for r in together[2].rejections] == [(1, "priority")]
    assert json.loads(together[1].rejections[0].raw)["status"] == "escalated"


def test_a_page_changed_before_its_left_ticket_is_read_again_is_left_to_the_usual_decoding(
    tmp_path: Path, monkeypatch: Any
) -> None:
    import connectors.zendesk_pages as zendesk_pages

    pages = [[usual_ticket(10 * n + k) for k in range(3)] for n in range(2)]
    pages[1][0]["status"] = "escalated"
    files = _folder(tmp_path, pages)
    read_again = zendesk_pages.read_zendesk_records

    def changed_meanwhile(path: Path) -> Any:
        records = read_again(path)
        records.stamp = (records.stamp[0] + 1, records.stamp[1])
        return records

    from connectors.zendesk_context import file_stamp

    decoded_as = [(files[1], file_stamp(files[1]), 3)]
    record_of = zendesk_pages._left_records(decoded_as, [0])
    assert record_of is not None and record_of(0).data == pages[1][0]
    monkeypatch.setattr(zendesk_pages, "read_zendesk_records", changed_meanwhile)
    assert zendesk_pages._left_records(decoded_as, [0]) is None
