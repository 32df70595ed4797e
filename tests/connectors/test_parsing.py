from __future__ import annotations

from pathlib import Path

import pytest

from connectors.files import UnreadableFileError
from connectors.parsing import read_json_records

KEYS = ("tickets", "users", "groups")


def test_a_page_yields_every_list_as_its_own_stream(tmp_path: Path) -> None:
    page = tmp_path / "page.json"
    page.write_text(
        '{"tickets": [{"id": 1}, {"id": 2}], "users": [{"id": 7}, 3], "groups": [],'
        ' "brands": [{"id": 9}], "after_cursor": "abc", "end_of_stream": true}'
    )
    records = list(read_json_records(page, KEYS))
    assert [(r.stream, r.row) for r in records] == [
        ("tickets", 1),
        ("tickets", 2),
        ("users", 1),
        ("users", 2),
    ]
    assert records[3].data is None and records[3].error == "record is not an object"
    assert records[0].page == {"after_cursor": "abc", "end_of_stream": True}


def test_arrays_single_objects_and_envelopes(tmp_path: Path) -> None:
    array = tmp_path / "array.json"
    array.write_text('[{"id": 1}, {"id": 2}]')
    assert [(r.stream, r.row, r.data) for r in read_json_records(array, KEYS)] == [
        (None, 1, {"id": 1}),
        (None, 2, {"id": 2}),
    ]
    single = tmp_path / "metric.json"
    single.write_text('{"ticket_metric": {"ticket_id": 4}}')
    [record] = read_json_records(single, KEYS)
    assert (record.stream, record.data) == ("ticket_metric", {"ticket_id": 4})
    lines = tmp_path / "sync.jsonl"
    lines.write_text(
        '{"stream": "users", "data": {"id": 1}, "emitted_at": 1}\n\n'
        '{"type": "RECORD", "record": {"stream": "groups", "data": {"id": 2}}}\n'
        "[1, 2]\n{broken\n"
    )
    found = [(r.row, r.stream, r.data, r.error is not None) for r in read_json_records(lines, KEYS)]
    assert found == [
        (1, "users", {"id": 1}, False),
        (3, "groups", {"id": 2}, False),
        (4, None, None, True),
        (5, None, None, True),
    ]


def test_a_file_that_is_not_json_names_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "page.json"
    path.write_text('{"tickets": [\n  {"id": 1,}\n]}')
    with pytest.raises(UnreadableFileError, match=r"page\.json: not valid JSON: .* line 2, column 12"):
        list(read_json_records(path, KEYS))
