"""The folder's context is collected without decoding plain pages of tickets, and tells every file exactly
what decoding every file told: a file the scan calls plain holds no stream the context reads or that reads
it, and each file of a folder parses alike with both contexts."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.config import ZendeskFilesConfig
from connectors.files import UnreadableFileError
from connectors.parsing import ParsedFile
from connectors.zendesk import parse_zendesk_file
from connectors.zendesk_context import ZendeskContext, collect_zendesk_context, decode_zendesk_file
from connectors.zendesk_scan import files_informing_context
from tests.connectors.zendesk_generated import (
    CONFIGS,
    CUSTOM_FIELD,
    ISO_TIMES,
    ODD,
    SCORES,
    USER_IDS,
    USERS,
    assert_parsed_alike,
    pages,
    usual_ticket,
)

# Streams the context reads (names, metrics, ratings) or that read its ticket ids and requesters.
CONTEXT_STREAMS = {
    "groups",
    "organizations",
    "users",
    "ticket_metrics",
    "satisfaction_ratings",
    "ticket_audits",
    "ticket_comments",
    "comments",
}


def _informs(tmp_path: Path, text: str | bytes, name: str = "page.json") -> bool:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    [informs] = files_informing_context([path])
    return informs


def test_plain_pages_of_tickets_tell_nothing(tmp_path: Path) -> None:
    ticket = {**usual_ticket(1), "satisfaction_rating": {"score": "offered"}, "tags": ["events"]}
    assert not _informs(tmp_path, json.dumps({"tickets": [usual_ticket(1)], "end_of_stream": True}))
    assert not _informs(tmp_path, json.dumps({"tickets": [ticket], "after_cursor": "c"}))
    assert not _informs(tmp_path, json.dumps({"tickets": [ticket]}, indent=2))
    lines = "\n".join(json.dumps({"stream": "tickets", "data": usual_ticket(n)}) for n in (1, 2))
    assert not _informs(tmp_path, lines, "export.jsonl")


@pytest.mark.parametrize(
    "document",
    [
        {"tickets": [usual_ticket(1)], "users": [{"id": 7, "name": "Ana"}]},
        {"tickets": [usual_ticket(1)], "metric_sets": []},
        {"satisfaction_ratings": [{"ticket_id": 1, "score": "good"}]},
        {"audits": []},
        {"ticket_metric": {"ticket_id": 1}},
        [{"ticket_id": 1, "score": "good"}],  # records of no stream: a rating
        {"end_of_stream": True, "tickets": [{**usual_ticket(1), "satisfaction_rating": {"score": "x"}}]},
        {"tickets": [usual_ticket(1)], "subject": "users"},  # unsure: a word followed by a quote
    ],
)
def test_files_that_may_tell_something_are_decoded(tmp_path: Path, document: Any) -> None:
    assert _informs(tmp_path, json.dumps(document))


def test_escaped_names_and_unreadable_files_count_as_telling(tmp_path: Path) -> None:
    escaped = json.dumps({"tickets": [usual_ticket(1)], "groups": []}).replace('"groups"', '"gro\\u0075ps"')
    assert json.loads(escaped)["groups"] == []
    assert _informs(tmp_path, escaped)
    assert _informs(tmp_path, b'{"tickets": [{"id": 1, "subject": "\xff"}]}')
    assert files_informing_context([tmp_path / "missing.json"]) == [True]


KEYS = [
    "tickets",
    "users",
    "groups",
    "organizations",
    "metric_sets",
    "ticket_metrics",
    "ticket_metric",
    "satisfaction_ratings",
    "audits",
    "ticket_audits",
    "comments",
    "ticket_comments",
    "schedules",
    "sla_policies",
    "ticket_events",
    "other",
]
RECORDS = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "id": st.integers(1, 5),
            "ticket_id": st.integers(1, 5),
            "score": SCORES,
            "events": st.just([]),
            "reply_time_in_minutes": st.just({"calendar": 5}),
            "satisfaction_rating": st.fixed_dictionaries({"score": SCORES}),
            "stream": st.sampled_from(KEYS),
            "data": st.just(usual_ticket(1)),
            "subject": st.sampled_from(["users", 'say "score"', "events\\"]),
        },
    ),
    max_size=3,
)
DOCUMENTS = st.one_of(
    st.dictionaries(st.sampled_from(KEYS), st.one_of(RECORDS, ODD), max_size=4),
    st.lists(st.one_of(RECORDS.map(lambda r: r[0] if r else {}), ODD), max_size=3),
    RECORDS.map(lambda records: records[0] if records else {}),
)


def _escape_a_letter(text: str, position: int) -> str:
    """The JSON text with one letter of a string spelled as a \\u escape (as a key could be)."""
    letters = [
        i for i in range(1, len(text)) if text[i].isalpha() and (text[i - 1] == '"' or text[i - 1].isalpha())
    ]
    if not letters:
        return text
    i = letters[position % len(letters)]
    return text[:i] + f"\\u{ord(text[i]):04x}" + text[i + 1 :]


@settings(max_examples=400, deadline=None)
@given(document=DOCUMENTS, as_lines=st.booleans(), escape=st.none() | st.integers(0, 200))
def test_a_file_called_plain_holds_no_stream_of_the_context(
    document: Any, as_lines: bool, escape: int | None
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        if as_lines and isinstance(document, list):
            path = Path(folder) / "export.jsonl"
            text = "\n".join(json.dumps(item) for item in document)
        else:
            path = Path(folder) / "page.json"
            text = json.dumps(document)
        if escape is not None:
            text = _escape_a_letter(text, escape)
        path.write_text(text)
        [informs] = files_informing_context([path])
        if informs:
            return
        try:
            decoded = decode_zendesk_file(path)
        except UnreadableFileError:
            return
        assert not set(decoded.streams) & CONTEXT_STREAMS, (text, set(decoded.streams))


# Folders: ticket pages (plain or with sideloads), and files of ratings, audits, comments and users that
# refer to their tickets, in any order.
def _rating(ticket_id: int) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {"ticket_id": st.just(ticket_id), "score": SCORES},
        optional={"updated_at": st.sampled_from(["2025-01-01T00:00:00Z", "2025-02-01T00:00:00Z"])},
    )


AUDIT_EVENTS = st.lists(
    st.one_of(
        st.fixed_dictionaries(
            {
                "type": st.just("Comment"),
                "author_id": USER_IDS,
                "public": st.booleans(),
                "body": st.just("hi"),
            }
        ),
        st.fixed_dictionaries(
            {"type": st.just("Create"), "field_name": st.just("requester_id"), "value": USER_IDS.map(str)}
        ),
        st.fixed_dictionaries(
            {"type": st.just("Change"), "field_name": st.just("status"), "value": st.just("solved")}
        ),
    ),
    max_size=3,
)
AUDITS = st.lists(
    st.fixed_dictionaries(
        {
            "ticket_id": st.integers(1, 7),
            "created_at": ISO_TIMES,
            "author_id": USER_IDS,
            "events": AUDIT_EVENTS,
        }
    ),
    min_size=1,
    max_size=4,
)
COMMENTS = st.lists(
    st.fixed_dictionaries(
        {"ticket_id": st.integers(1, 7), "author_id": USER_IDS, "created_at": ISO_TIMES},
        optional={"public": st.booleans()},
    ),
    min_size=1,
    max_size=3,
)


@st.composite
def folders(draw: st.DrawFn) -> list[tuple[str, str]]:
    """(file name, text) of an export folder."""
    files: list[tuple[str, str]] = []
    for _ in range(draw(st.integers(1, 3))):
        page = draw(pages())
        if draw(st.booleans()):  # a plain page: its tickets only
            page = {"tickets": page["tickets"], "end_of_stream": True}
        files.append(("tickets", json.dumps(page)))
    others = {
        "ratings": st.lists(st.integers(1, 7).flatmap(_rating), min_size=1, max_size=4).map(
            lambda ratings: json.dumps({"satisfaction_ratings": ratings})
        ),
        "audits": AUDITS.map(lambda audits: json.dumps({"audits": audits})),
        "comments": COMMENTS.map(lambda comments: json.dumps({"comments": comments})),
        "users": st.lists(USERS, min_size=1, max_size=3).map(
            lambda users: "\n".join(json.dumps({"stream": "users", "data": user}) for user in users)
        ),
    }
    for kind, strategy in others.items():
        if draw(st.booleans()):
            files.append((kind, draw(strategy)))
    order = draw(st.permutations(range(len(files))))
    suffix = {"users": "jsonl"}
    return [
        (f"{position:02d}-{files[i][0]}.{suffix.get(files[i][0], 'json')}", files[i][1])
        for position, i in enumerate(order)
    ]


def _context_of_every_file(files: list[Path]) -> ZendeskContext:
    """The context as every file decoded tells it: the reference."""
    context = ZendeskContext()
    for path in files:
        try:
            context.add_decoded(decode_zendesk_file(path))
        except UnreadableFileError:
            continue
    return context


def _parsed(files: list[Path], config: ZendeskFilesConfig, context: ZendeskContext) -> list[Any]:
    """Each file parsed in order with one context, as a run parses them."""
    results: list[ParsedFile | str] = []
    for path in files:
        try:
            results.append(parse_zendesk_file(path, config, context))
        except Exception as exc:  # both must fail alike
            results.append(f"{type(exc).__name__}: {exc}")
    return results


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(folder=folders(), config=st.sampled_from(list(CONFIGS.values())))
def test_every_file_parses_as_with_the_context_of_every_file(
    folder: list[tuple[str, str]], config: ZendeskFilesConfig
) -> None:
    with tempfile.TemporaryDirectory() as directory:
        files = []
        for name, text in folder:
            path = Path(directory) / name
            path.write_text(text)
            files.append(path)
        reference = _parsed(files, config, _context_of_every_file(files))
        assert_parsed_alike(_parsed(files, config, collect_zendesk_context(files, options=config)), reference)
        assert_parsed_alike(_parsed(files, config, collect_zendesk_context(files)), reference)


def test_ticket_ids_of_plain_pages_are_read_when_another_file_reads_them(tmp_path: Path) -> None:
    page = tmp_path / "a-tickets.json"
    page.write_text(json.dumps({"tickets": [{**usual_ticket(5), "requester_id": 7002}]}))
    ratings = tmp_path / "b-ratings.json"
    ratings.write_text(json.dumps({"satisfaction_ratings": [{"ticket_id": 5, "score": "good"}]}))
    alone = collect_zendesk_context([page])
    assert alone.decoded == {} and alone.tickets == set()  # nothing reads them: not even decoded
    context = collect_zendesk_context([page, ratings])
    assert context.tickets == {"5"} and context.requesters == {"5": "7002"}
    assert parse_zendesk_file(ratings, CONFIGS["default"], context).batch.rejections == []


def test_custom_fields_are_read_again_when_the_parse_maps_them(tmp_path: Path) -> None:
    """A context collected for a connector that maps no custom field kept the columns without them."""
    page = tmp_path / "page.json"
    ticket = {**usual_ticket(1), "custom_fields": [{"id": CUSTOM_FIELD, "value": "LYS-01"}]}
    page.write_text(json.dumps({"tickets": [ticket], "users": [{"id": 7001, "name": "Ana"}]}))
    context = collect_zendesk_context([page], options=CONFIGS["default"])
    assert not context.decoded[page.resolve()].tickets.custom_fields_read
    interactions = parse_zendesk_file(page, CONFIGS["overrides"], context).batch.interactions
    assert interactions["location"].to_list() == ["LYS-01"]


def test_a_second_tickets_member_can_make_a_page_one_record(tmp_path: Path) -> None:
    """The last of two members of one name wins: this page is a single rating."""
    text = '{"tickets": [], "ticket_id": 1, "score": "good", "tickets": null}'
    path = tmp_path / "page.json"
    path.write_text(text)
    assert "satisfaction_ratings" in decode_zendesk_file(path).streams
    assert _informs(tmp_path, text)


@pytest.mark.parametrize("stream", ["comments", "ticket_comments", "audits", "ticket_audits"])
def test_comments_before_their_plain_page_know_its_requester(tmp_path: Path, stream: str) -> None:
    comment = {"ticket_id": 5, "author_id": 8001, "created_at": "2025-01-01T10:00:00Z"}
    if "audits" in stream:
        comment = {**comment, "events": [{"type": "Comment", "author_id": 8001, "body": "hi"}]}
    if stream == "ticket_comments":  # a stream of Airbyte envelopes only
        comments = tmp_path / "a-comments.jsonl"
        comments.write_text(json.dumps({"stream": stream, "data": comment}) + "\n")
    else:
        comments = tmp_path / "a-comments.json"
        comments.write_text(json.dumps({stream: [comment]}))
    page = tmp_path / "b-tickets.json"
    page.write_text(json.dumps({"tickets": [{**usual_ticket(5), "requester_id": 8001}]}))
    files = [comments, page]
    config = CONFIGS["default"]
    reference = _parsed(files, config, _context_of_every_file(files))
    mine = _parsed(files, config, collect_zendesk_context(files, options=config))
    assert_parsed_alike(mine, reference)
    assert mine[0].batch.events["type"].to_list() == ["customer_message"]
