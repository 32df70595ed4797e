"""Plain pages mapped several at a time give every file exactly what parsing it alone gives: the same
rows, events, rejections and failures, whatever files are parsed and in whatever order, and whatever
changes between a page's mapping and its turn."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.config import ZendeskFilesConfig
from connectors.zendesk import parse_zendesk_file
from connectors.zendesk_context import collect_zendesk_context
from connectors.zendesk_pages import PAGES_AT_ONCE, ZendeskFolderParser
from tests.connectors.zendesk_generated import CONFIGS, ODD, assert_parsed_alike, pages, usual_ticket


def _parse_each(
    files: list[Path], calls: list[Path], config: ZendeskFilesConfig, *, pages_at_once: bool
) -> list[Any]:
    """Each file of ``calls`` parsed in turn, by the folder's parser or alone, with the folder's context."""
    context = collect_zendesk_context(files, options=config)
    parser = ZendeskFolderParser(config, context, files)
    results: list[Any] = []
    for path in calls:
        try:
            results.append(parser(path) if pages_at_once else parse_zendesk_file(path, config, context))
        except Exception as exc:  # both must fail alike
            results.append(f"{type(exc).__name__}: {exc}")
    return results


def _assert_alike(files: list[Path], calls: list[Path], config: ZendeskFilesConfig) -> None:
    assert_parsed_alike(
        _parse_each(files, calls, config, pages_at_once=True),
        _parse_each(files, calls, config, pages_at_once=False),
    )


@st.composite
def folders(draw: st.DrawFn) -> list[str]:
    """Texts of the files of a folder: mostly plain pages (some odd), now and then another kind."""
    texts: list[str] = []
    for _ in range(draw(st.integers(1, 2 * PAGES_AT_ONCE + 3))):
        kind = draw(st.sampled_from(["plain"] * 6 + ["empty", "sideloads", "broken", "schedules"]))
        page = draw(pages())
        plain = {"tickets": page["tickets"], "end_of_stream": True}
        texts.append(
            {
                "plain": json.dumps(plain),
                "empty": json.dumps({"tickets": []}),
                "sideloads": json.dumps(page),
                "broken": json.dumps(plain)[:-3],
                "schedules": json.dumps({**plain, "schedules": [{"id": 1}], "ticket_events": [draw(ODD)]}),
            }[kind]
        )
    return texts


def _write(directory: str, texts: list[str]) -> list[Path]:
    files = []
    for number, text in enumerate(texts):
        path = Path(directory) / f"tickets-{number:03d}.json"
        path.write_text(text)
        files.append(path)
    return files


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(
    texts=folders(),
    config=st.sampled_from(list(CONFIGS.values())),
    order=st.sampled_from(["folder", "some", "any"]),
    data=st.data(),
)
def test_pages_mapped_together_parse_as_alone(
    texts: list[str], config: ZendeskFilesConfig, order: str, data: st.DataObject
) -> None:
    with tempfile.TemporaryDirectory() as directory:
        files = _write(directory, texts)
        calls = {
            "folder": files,
            "some": [path for path in files if data.draw(st.booleans())],
            "any": data.draw(st.permutations(files)),
        }[order]
        _assert_alike(files, calls, ZendeskFilesConfig(**{**config.model_dump(), "path": directory}))


def _plain_folder(directory: Path, pages_count: int) -> list[Path]:
    return _write(
        str(directory),
        [json.dumps({"tickets": [usual_ticket(10 * n + k) for k in range(3)]}) for n in range(pages_count)],
    )


def test_a_page_changed_after_its_mapping_is_parsed_again(tmp_path: Path) -> None:
    files = _plain_folder(tmp_path, 6)
    config = CONFIGS["default"]
    parser = ZendeskFolderParser(config, collect_zendesk_context(files, options=config), files)
    parser(files[0])
    parser(files[1])  # in order: the following pages are mapped with it
    changed = {**usual_ticket(99), "status": "escalated"}
    files[2].write_text(json.dumps({"tickets": [changed, usual_ticket(98)]}))
    os.utime(files[2], ns=(0, files[2].stat().st_mtime_ns + 1_000_000_000))
    alone = parse_zendesk_file(files[2], config, collect_zendesk_context(files, options=config))
    got = parser(files[2])
    assert_parsed_alike([got], [alone])
    assert got.batch.interactions["external_id"].to_list() == ["98"] and len(got.batch.rejections) == 1


def test_pages_mapped_before_the_names_changed_are_mapped_again(tmp_path: Path) -> None:
    """A file parsed in between that brings names makes the pages mapped before it stale."""
    page = {"tickets": [{**usual_ticket(n), "group_id": 501} for n in (1, 2)]}
    files = _write(
        str(tmp_path), [json.dumps(page)] * 4 + [json.dumps({"groups": [{"id": 501, "name": "Desk"}]})]
    )
    config = CONFIGS["default"]
    calls = [files[0], files[1], files[4], files[2], files[3]]
    _assert_alike(files, calls, config)
    results = _parse_each(files, calls, config, pages_at_once=True)
    assert results[3].batch.interactions["team"].to_list() == ["Desk", "Desk"]


def test_a_broken_page_among_plain_ones_fails_alone(tmp_path: Path) -> None:
    files = _plain_folder(tmp_path, 5)
    files[3].write_text('{"tickets": [')
    _assert_alike(files, files, CONFIGS["default"])
    results = _parse_each(files, files, CONFIGS["default"], pages_at_once=True)
    assert isinstance(results[3], str) and "not valid JSON" in results[3]
    assert [r.batch.interactions.height for i, r in enumerate(results) if i != 3] == [3, 3, 3, 3]


def test_pages_mapped_before_the_context_changed_elsewhere_are_mapped_again(tmp_path: Path) -> None:
    page = {"tickets": [{**usual_ticket(n), "group_id": 501} for n in (1, 2)]}
    files = _write(str(tmp_path), [json.dumps(page)] * 4)
    names = tmp_path / "groups.json"
    names.write_text(json.dumps({"groups": [{"id": 501, "name": "Desk"}]}))
    config = CONFIGS["default"]
    context = collect_zendesk_context(files, options=config)
    parser = ZendeskFolderParser(config, context, files)
    parser(files[0])
    parser(files[1])  # the pages after it are mapped ahead, without the group's name
    parse_zendesk_file(names, config, context)  # the same context learns it
    assert parser(files[2]).batch.interactions["team"].to_list() == ["Desk", "Desk"]
