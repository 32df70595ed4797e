from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import TypeAdapter, ValidationError

from connectors.config import ConnectorList, ServicenowCsvConfig, ZendeskApiConfig
from connectors.registry import connector_files, parse_connector_files

CONNECTORS = TypeAdapter(ConnectorList)


def test_union_picks_the_model_by_kind() -> None:
    [snow, api] = CONNECTORS.validate_python(
        [
            {"kind": "servicenow_csv", "name": "snow", "path": "exports/*.csv", "schedule": {"minutes": 15}},
            {
                "kind": "zendesk_api",
                "name": "zd",
                "base_url": "https://acme.zendesk.com",
                "token_env": "ZENDESK_TOKEN",
                "email": "ops@acme.example",
                "schedule": {"cron": "*/10 * * * *"},
            },
        ]
    )
    assert isinstance(snow, ServicenowCsvConfig) and snow.source_name == "snow"
    assert snow.schedule is not None and snow.schedule.interval_seconds() == 900
    assert (
        isinstance(api, ZendeskApiConfig)
        and api.schedule is not None
        and api.schedule.interval_seconds() is None
    )


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {
                "kind": "zendesk_api",
                "name": "zd",
                "base_url": "https://a.zendesk.com",
                "token_env": "abc123secret",
                "email": "a@b.c",
            },
            "NAME of an environment variable",
        ),
        ({"kind": "zendesk_files", "name": "zd", "path": "x", "colour": "red"}, "Extra inputs"),
        ({"kind": "carrier_pigeon", "name": "zd", "path": "x"}, "kind"),
        ({"kind": "tabular_files", "name": "t", "path": "x", "mapping": {"external_id": "id"}}, "created_at"),
        (
            {
                "kind": "tabular_files",
                "name": "t",
                "path": "x",
                "mapping": {"external_id": "a", "created_at": "b", "mood": "c"},
            },
            "mood",
        ),
        (
            {
                "kind": "servicenow_csv",
                "name": "s",
                "path": "x",
                "schedule": {"minutes": 5, "cron": "* * * * *"},
            },
            "exactly one",
        ),
        ({"kind": "servicenow_csv", "name": "s", "path": "x", "schedule": {"cron": "every day"}}, "crontab"),
        (
            {"kind": "servicenow_csv", "name": "s", "path": "x", "time_zone": "Mars/Olympus"},
            "unknown time zone",
        ),
        (
            {"kind": "zendesk_files", "name": "zd", "path": "x", "status_map": {"hold": "parked"}},
            "status_map",
        ),
        (
            {
                "kind": "freshdesk_api",
                "name": "fd",
                "base_url": "https://acme.freshdesk.com",
                "token_env": "FRESHDESK_API_KEY",
                "page_size": 500,
            },
            "less than or equal to 100",
        ),
    ],
)
def test_bad_entries_give_clear_errors(entry: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        CONNECTORS.validate_python([entry])


def test_names_are_unique() -> None:
    entry = {"kind": "zammad_files", "name": "zm", "path": "x"}
    with pytest.raises(ValidationError, match="more than once"):
        CONNECTORS.validate_python([entry, entry])


def test_registry_lists_readable_files_of_a_folder_or_glob(samples: Path) -> None:
    folder = CONNECTORS.validate_python([{"kind": "zendesk_files", "name": "zd", "path": str(samples)}])[0]
    assert [p.name for p in connector_files(folder)] == [
        "freshdesk_reference.json",
        "freshdesk_tickets.json",
        "intercom_conversations.jsonl",
        "zammad_tickets.json",
        "zendesk_audits.json",
        "zendesk_export.jsonl",
    ]
    pattern = CONNECTORS.validate_python(
        [{"kind": "servicenow_csv", "name": "s", "path": "samples/servicenow*"}]
    )[0]
    files = connector_files(pattern, base_dir=samples.parent)
    assert [p.name for p in files] == ["servicenow_audit_log.csv"]
    [(path, parsed)] = list(parse_connector_files(pattern, files))
    assert path == files[0] and parsed.batch.interactions.height == 2
