"""Each Zendesk file is decoded once per run, and orjson reads JSON exactly as the standard library did."""

from __future__ import annotations

import gc
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import connectors.files
import connectors.parsing
from connectors.config import ZendeskFilesConfig
from connectors.files import UnreadableFileError, decode_json, iter_json_lines, load_json_document
from connectors.zendesk import parse_zendesk_file
from connectors.zendesk_context import collect_zendesk_context

API_EXPORT = "zendesk_api_export"


def _config() -> ZendeskFilesConfig:
    return ZendeskFilesConfig.model_validate({"kind": "zendesk_files", "name": "zd", "path": "x"})


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the JSON documents decoded, in order."""
    seen: list[str] = []

    read = connectors.parsing.load_json_document

    def counting(path: Path) -> object:
        seen.append(path.name)
        return read(path)

    monkeypatch.setattr(connectors.parsing, "load_json_document", counting)
    return seen


def _copy_export(samples: Path, tmp_path: Path) -> list[Path]:
    folder = tmp_path / "export"
    shutil.copytree(samples / API_EXPORT, folder)
    return sorted(folder.iterdir())


def test_files_decoded_for_the_context_are_not_decoded_again(
    samples: Path, tmp_path: Path, decodes: list[str]
) -> None:
    files = _copy_export(samples, tmp_path)
    context = collect_zendesk_context(files)
    assert sorted(decodes) == sorted(p.name for p in files)
    batches = [parse_zendesk_file(path, _config(), context).batch for path in files]
    assert sorted(decodes) == sorted(p.name for p in files)  # nothing decoded a second time
    fresh = [parse_zendesk_file(path, _config(), collect_zendesk_context(files)).batch for path in files]
    for cached, reread in zip(batches, fresh, strict=True):
        assert cached.interactions.equals(reread.interactions)
        assert cached.events.equals(reread.events)
        assert cached.rejections == reread.rejections


def test_a_file_parsed_twice_or_changed_since_is_decoded_again(
    samples: Path, tmp_path: Path, decodes: list[str]
) -> None:
    files = _copy_export(samples, tmp_path)
    context = collect_zendesk_context(files)
    tickets = next(p for p in files if "tickets" in p.name)
    parse_zendesk_file(tickets, _config(), context)
    parse_zendesk_file(tickets, _config(), context)  # the kept copy is handed out once
    assert decodes.count(tickets.name) == 2
    audits = next(p for p in files if "audits" in p.name)
    stat = audits.stat()
    os.utime(audits, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    parse_zendesk_file(audits, _config(), context)
    assert decodes.count(audits.name) == 2


def test_the_kept_records_are_bounded(samples: Path, tmp_path: Path, decodes: list[str]) -> None:
    files = _copy_export(samples, tmp_path)
    assert collect_zendesk_context(files, keep_decoded_bytes=0).decoded == {}
    first = files[0]
    size = collect_zendesk_context([first]).decoded[first.resolve()].estimated_bytes()
    assert size > 0
    kept = collect_zendesk_context(files, keep_decoded_bytes=size).decoded
    assert list(kept) == [first.resolve()]


def test_undecodable_lines_are_rejected_the_same_from_the_kept_copy(tmp_path: Path) -> None:
    export = tmp_path / "export.jsonl"
    lines = [
        '{"id": 1, "status": "open", "created_at": "2025-01-01T00:00:00Z"}',
        '{"stream": "users", "data": {"id": 7, "name": "Ana"}}',  # names: decoded for the context
        '{"id": 2,',
    ]
    export.write_text("\n".join(lines) + "\n")
    direct = parse_zendesk_file(export, _config()).batch.rejections
    context = collect_zendesk_context([export])
    assert export.resolve() in context.decoded
    assert parse_zendesk_file(export, _config(), context).batch.rejections == direct
    [rejection] = direct
    assert rejection.row == 3 and rejection.reason.startswith("not valid JSON: Expecting")


BAD_DOCUMENTS = [
    '{"tickets": [',
    '{"tickets": [1,]}',
    "{'single': 1}",
    '{"a": 1}\n\n  x',
    '{"a": tru}',
    "",
    '"unterminated',
]


@pytest.mark.parametrize("text", BAD_DOCUMENTS)
def test_bad_json_is_named_exactly_as_the_standard_library_names_it(tmp_path: Path, text: str) -> None:
    path = tmp_path / "page.json"
    path.write_text(text)
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(text)
    with pytest.raises(UnreadableFileError) as raised:
        load_json_document(path)
    wanted = (
        f"not valid JSON: {expected.value.msg} at line {expected.value.lineno}, column {expected.value.colno}"
    )
    assert raised.value.reason == wanted
    lines = tmp_path / "page.jsonl"
    lines.write_text(text.replace("\n", " ") + "\n")
    if text.strip():
        [(_, value, _, error)] = list(iter_json_lines(lines))
        assert value is None and error is not None and error.startswith("not valid JSON: ")


def test_what_orjson_refuses_but_json_reads_still_loads() -> None:
    value = decode_json('{"a": NaN, "b": Infinity, "c": 1e400}')
    assert value["a"] != value["a"] and value["b"] == value["c"] == float("inf")


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(json_values)
def test_documents_decode_as_the_standard_library_decodes_them(value: object) -> None:
    text = json.dumps(value, ensure_ascii=False)
    assert decode_json(text) == json.loads(text)


@settings(max_examples=150, deadline=None)
@given(
    value=json_values,
    form=st.sampled_from(["utf-8", "crlf", "bom", "utf-16", "latin-1", "nan", "cut", "surrogate"]),
)
def test_documents_read_from_bytes_as_from_their_text(value: object, form: str) -> None:
    """``load_json_document`` gives what decoding the file's text gives, or refuses with the same reason."""
    text = json.dumps(value, ensure_ascii=False, indent=1 if form == "crlf" else None)
    data = {
        "utf-8": text.encode(),
        "crlf": text.replace("\n", "\r\n").encode(),
        "bom": b"\xef\xbb\xbf" + text.encode(),
        "utf-16": text.encode("utf-16"),
        "latin-1": text.encode("latin-1", errors="replace") + b"\xe9",
        "nan": b'{"a": NaN, "b": ' + text.encode() + b"}",
        "cut": text.encode()[:-1],
        "surrogate": b'["\\ud800", ' + text.encode() + b"]",
    }[form]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "page.json"
        path.write_bytes(data)
        assert _read(load_json_document, path) == _read(_load_from_text, path)


def _load_from_text(path: Path) -> object:
    """A JSON file read as text first, then decoded, as the standard library reads it."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UnreadableFileError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        return decode_json(text)
    except json.JSONDecodeError as exc:
        raise UnreadableFileError(
            path, f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None


def _read(read: Callable[[Path], object], path: Path) -> object:
    try:
        return ("read", read(path))
    except UnreadableFileError as exc:
        return ("refused", exc.reason)


def test_the_garbage_collector_is_back_as_it_was_after_a_parse(samples: Path) -> None:
    was = gc.isenabled()
    try:
        for enabled in (True, False):
            gc.enable() if enabled else gc.disable()
            for path in sorted((samples / API_EXPORT).iterdir()):
                parse_zendesk_file(path, _config())
                assert gc.isenabled() is enabled
    finally:
        gc.enable() if was else gc.disable()


@pytest.mark.parametrize("enabled_before", [True, False])
def test_the_garbage_collector_is_paused_only_while_decoding(tmp_path: Path, enabled_before: bool) -> None:
    seen: list[bool] = []

    def decoding(text: str) -> object:
        seen.append(gc.isenabled())
        if text.startswith("{"):
            return {}
        raise json.JSONDecodeError("Expecting value", text, 0)

    page, broken = tmp_path / "page.json", tmp_path / "broken.json"
    page.write_text("{NaN}")  # refused by orjson, so both files reach the text decoder observed here
    broken.write_text("x")
    was = gc.isenabled()
    try:
        gc.enable() if enabled_before else gc.disable()
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(connectors.files, "decode_json", decoding)
            load_json_document(page)
            with pytest.raises(UnreadableFileError):
                load_json_document(broken)
        assert seen == [False, False] and gc.isenabled() is enabled_before
    finally:
        gc.enable() if was else gc.disable()
