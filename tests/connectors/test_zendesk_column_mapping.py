"""The column-wise Zendesk ticket mapping gives exactly what the per-ticket mapping gives: the same rows,
and the same rejections (file, row, field, reason, raw), on real exports, on the project's samples and on
generated tickets with missing fields, nulls, odd JSON types, unknown values and bad timestamps."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import connectors.zendesk
from connectors.config import ZendeskFilesConfig
from connectors.zendesk import parse_zendesk_file
from connectors.zendesk_context import ZendeskContext, collect_zendesk_context, decode_zendesk_file
from tests.connectors.zendesk_generated import (
    API_EXPORT,
    CONFIGS,
    assert_same_as_one_by_one,
    pages,
    usual_ticket,
    zendesk_config,
)

USERS = [{"id": 7001, "name": "Ana Agent", "role": "agent"}]


def _zendesk_fixture_files(shared_fixtures: Path) -> list[Path]:
    return sorted((shared_fixtures / "zendesk").iterdir())


@pytest.mark.fixtures
@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
def test_real_exports_map_alike(shared_fixtures: Path, config: ZendeskFilesConfig) -> None:
    files = _zendesk_fixture_files(shared_fixtures)
    assert len(files) >= 6
    for path in files:
        assert_same_as_one_by_one(path, config)
        assert_same_as_one_by_one(path, config, folder=files)


@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
def test_own_samples_map_alike(samples: Path, config: ZendeskFilesConfig) -> None:
    export = sorted((samples / API_EXPORT).iterdir())
    for path in [samples / "zendesk_export.jsonl", samples / "zendesk_audits.json", *export]:
        assert_same_as_one_by_one(path, config)
        assert_same_as_one_by_one(path, config, folder=export)


def test_tickets_are_mapped_column_wise(samples: Path) -> None:
    """The reference above really differs in how it maps: the sample's good tickets take the columns."""
    path = samples / API_EXPORT / "incremental-tickets-0001.json"
    decoded = decode_zendesk_file(path)
    context = ZendeskContext()
    context.add_decoded(decoded)
    frame, left = connectors.zendesk.map_ticket_columns(decoded.tickets, zendesk_config(), context, path.name)
    assert left == [] and frame["external_id"].to_list() == ["20", "21"]


def test_a_ticket_the_columns_leave_is_read_again_when_only_its_columns_were_kept(tmp_path: Path) -> None:
    page = tmp_path / "page.json"
    tickets = [usual_ticket(1), {**usual_ticket(2), "status": "escalated"}, {**usual_ticket(3), "id": "3"}]
    page.write_text(json.dumps({"tickets": tickets, "users": USERS}))  # names: decoded for the context
    context = collect_zendesk_context([page])
    kept = context.decoded[page.resolve()].tickets
    assert kept.source is None and list(kept.odd) == [2]  # the text id is odd; the status only in parsing
    batch = parse_zendesk_file(page, zendesk_config(), context).batch
    assert batch.interactions["external_id"].to_list() == ["1", "3"]
    [rejection] = batch.rejections
    assert (rejection.row, rejection.field) == (2, "status") and '"escalated"' in rejection.raw
    assert_same_as_one_by_one(page, zendesk_config(), folder=[page])


def test_a_file_changed_between_collection_and_its_second_read_fails_by_name(tmp_path: Path) -> None:
    page = tmp_path / "page.json"
    page.write_text(json.dumps({"tickets": [{**usual_ticket(1), "status": "escalated"}], "users": USERS}))
    context = collect_zendesk_context([page])
    decoded = context.decoded[page.resolve()]
    page.write_text(json.dumps({"tickets": [usual_ticket(1), usual_ticket(2)]}))
    context.decoded[page.resolve()] = decoded  # as if the change came between its check and its second read
    with (
        patch.object(ZendeskContext, "take_decoded", lambda self, path: decoded),
        pytest.raises(Exception, match="changed while being read"),
    ):
        parse_zendesk_file(page, zendesk_config(), context)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(page=pages(), config=st.sampled_from(list(CONFIGS.values())), as_lines=st.booleans())
def test_generated_exports_map_alike(
    page: dict[str, Any], config: ZendeskFilesConfig, as_lines: bool
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        if as_lines:  # Airbyte envelopes, one record a line
            path = Path(folder) / "export.jsonl"
            lines = [
                json.dumps({"stream": "ticket_metrics" if key == "metric_sets" else key, "data": record})
                for key, records in page.items()
                if isinstance(records, list)
                for record in records
            ]
            path.write_text("\n".join(lines) + "\n")
        else:
            path = Path(folder) / "page.json"
            path.write_text(json.dumps(page))
        assert_same_as_one_by_one(path, config)
        assert_same_as_one_by_one(path, config, folder=[path])
