"""NPS and CES from where each helpdesk keeps them: Zendesk ticket custom fields, Freshdesk survey questions."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from connectors.config import FreshdeskApiConfig, FreshdeskFilesConfig, ZendeskApiConfig, ZendeskFilesConfig
from connectors.freshdesk import parse_freshdesk_file
from connectors.freshdesk_api import RATINGS_PATH, freshdesk_api_batches
from connectors.freshdesk_lookups import collect_freshdesk_lookups
from connectors.http import ApiSession
from connectors.parsing import RecordError, survey_score
from connectors.validate import validate_batch
from connectors.zendesk import parse_zendesk_file
from connectors.zendesk_api import zendesk_page_batch

NPS_FIELD, CES_FIELD = 360001, 360002
NPS_QUESTION, CES_QUESTION = "question_7001", "question_7002"


def _zendesk(**extra: object) -> ZendeskFilesConfig:
    return ZendeskFilesConfig.model_validate({"kind": "zendesk_files", "name": "zd", "path": "x", **extra})


def _freshdesk(**extra: object) -> FreshdeskFilesConfig:
    return FreshdeskFilesConfig.model_validate(
        {"kind": "freshdesk_files", "name": "fd", "path": "x", **extra}
    )


def _zendesk_ticket(
    ticket_id: int, fields: list[dict[str, Any]], key: str = "custom_fields"
) -> dict[str, Any]:
    return {
        "id": ticket_id,
        "status": "solved",
        "created_at": "2025-01-01T08:00:00Z",
        "updated_at": "2025-01-02T08:00:00Z",
        key: fields,
    }


def _zendesk_page(tmp_path: Path, *tickets: dict[str, Any]) -> Path:
    page = tmp_path / "page.json"
    page.write_text(json.dumps({"tickets": list(tickets), "end_of_stream": True}))
    return page


SURVEYED = {"nps_field": NPS_FIELD, "ces_field": CES_FIELD}


def test_zendesk_scores_from_custom_fields_or_fields(tmp_path: Path) -> None:
    page = _zendesk_page(
        tmp_path,
        _zendesk_ticket(1, [{"id": NPS_FIELD, "value": 9}, {"id": CES_FIELD, "value": 6}]),
        _zendesk_ticket(2, [{"id": NPS_FIELD, "value": "0"}, {"id": CES_FIELD, "value": None}], "fields"),
        _zendesk_ticket(3, [{"id": 99, "value": 4}]),  # another custom field only
    )
    batch = parse_zendesk_file(page, _zendesk(**SURVEYED)).batch
    assert batch.rejections == []
    rows = validate_batch(batch).interactions.sort("external_id")
    assert rows["nps"].to_list() == [9, 0, None]
    assert rows["ces"].to_list() == [6, None, None]
    unconfigured = parse_zendesk_file(page, _zendesk()).batch.interactions
    assert unconfigured["nps"].null_count() == unconfigured["ces"].null_count() == 3


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        ([{"id": NPS_FIELD, "value": 11}], f"custom_fields[id={NPS_FIELD}]", "NPS answer 11 is outside 0-10"),
        (
            [{"id": CES_FIELD, "value": "0"}],
            f"custom_fields[id={CES_FIELD}]",
            "CES answer '0' is outside 1-7",
        ),
        ([{"id": NPS_FIELD, "value": "nine"}], f"custom_fields[id={NPS_FIELD}]", "is not a whole number"),
        ([{"id": CES_FIELD, "value": 5.5}], f"custom_fields[id={CES_FIELD}]", "is not a whole number"),
    ],
)
def test_zendesk_bad_answers_quarantine_the_ticket(
    tmp_path: Path, fields: list[dict[str, Any]], field: str, reason: str
) -> None:
    page = _zendesk_page(tmp_path, _zendesk_ticket(1, fields), _zendesk_ticket(2, []))
    batch = parse_zendesk_file(page, _zendesk(**SURVEYED)).batch
    [rejection] = batch.rejections
    assert (rejection.file, rejection.row, rejection.field) == ("page.json", 1, field)
    assert reason in rejection.reason
    assert batch.interactions["external_id"].to_list() == ["2"]  # the other ticket still loads


def test_zendesk_api_page_reads_the_same_fields() -> None:
    config = ZendeskApiConfig.model_validate(
        {"kind": "zendesk_api", "name": "zd", "base_url": "https://acme.zendesk.com", "token_env": "ZD_TOKEN",
         "email": "ops@acme.example", **SURVEYED}
    )  # fmt: skip
    payload = {
        "tickets": [_zendesk_ticket(4, [{"id": NPS_FIELD, "value": 7}, {"id": CES_FIELD, "value": 3}])]
    }
    batch = zendesk_page_batch(payload, {}, config, "page 1")
    assert batch.interactions.select("nps", "ces").row(0) == (7, 3)


def _freshdesk_folder(tmp_path: Path, ratings: list[dict[str, Any]]) -> Path:
    tickets = [
        {"id": n, "status": 4, "priority": 1, "source": 1, "created_at": "2025-04-01T08:00:00Z",
         "updated_at": "2025-04-01T09:00:00Z"}
        for n in (1, 2, 3)
    ]  # fmt: skip
    (tmp_path / "tickets.json").write_text(json.dumps(tickets))
    (tmp_path / "ratings.json").write_text(json.dumps(ratings))
    return tmp_path / "tickets.json"


def _rating(ticket_id: int, answers: dict[str, Any]) -> dict[str, Any]:
    return {"id": ticket_id, "ticket_id": ticket_id, "ratings": answers, "created_at": "2025-04-02T00:00:00Z"}


def test_freshdesk_scores_from_custom_survey_questions(tmp_path: Path) -> None:
    tickets = _freshdesk_folder(
        tmp_path,
        [
            _rating(1, {"default_question": 103, NPS_QUESTION: 10, CES_QUESTION: 7}),
            _rating(2, {"default_question": -103, NPS_QUESTION: "3"}),  # CES not answered
        ],
    )
    config = _freshdesk(nps_question=NPS_QUESTION, ces_question=CES_QUESTION)
    lookups = collect_freshdesk_lookups(sorted(tmp_path.iterdir()))
    batch = parse_freshdesk_file(tickets, config, lookups).batch
    assert batch.rejections == []
    rows = validate_batch(batch).interactions.sort("external_id")
    assert rows.select("csat", "nps", "ces").rows() == [(5, 10, 7), (1, 3, None), (None, None, None)]
    plain = parse_freshdesk_file(tickets, _freshdesk(), lookups).batch.interactions
    assert plain["nps"].null_count() == plain["ces"].null_count() == 3


@pytest.mark.parametrize(
    ("answers", "field", "reason"),
    [
        ({NPS_QUESTION: 103}, f"ratings.{NPS_QUESTION}", "NPS answer 103 is outside 0-10"),
        ({CES_QUESTION: 8}, f"ratings.{CES_QUESTION}", "CES answer 8 is outside 1-7"),
        ({CES_QUESTION: True}, f"ratings.{CES_QUESTION}", "is not a whole number"),
    ],
)
def test_freshdesk_bad_answers_quarantine_the_ticket(
    tmp_path: Path, answers: dict[str, Any], field: str, reason: str
) -> None:
    tickets = _freshdesk_folder(tmp_path, [_rating(2, {"default_question": 102, **answers})])
    config = _freshdesk(nps_question=NPS_QUESTION, ces_question=CES_QUESTION)
    batch = parse_freshdesk_file(tickets, config, collect_freshdesk_lookups(sorted(tmp_path.iterdir()))).batch
    [rejection] = batch.rejections
    assert (rejection.file, rejection.row, rejection.field) == ("tickets.json", 2, field)
    assert reason in rejection.reason
    assert sorted(batch.interactions["external_id"].to_list()) == ["1", "3"]


class _FreshdeskAccount:
    """Answers the few Freshdesk paths a pull reads, and records what was asked."""

    def __init__(self, tickets: list[dict[str, Any]], ratings: list[dict[str, Any]]):
        self.tickets, self.ratings = tickets, ratings
        self.asked: list[tuple[str, dict[str, Any]]] = []

    def get_json(self, path: str, params: dict[str, Any] | None = None, *, missing_ok: bool = False) -> Any:
        self.asked.append((path, dict(params or {})))
        if path == "/api/v2/tickets":
            return self.tickets if params and params["page"] == 1 else []
        if path == RATINGS_PATH:
            return self.ratings
        return [] if path.endswith("/conversations") or path.startswith("/api/v2/") else None


def test_freshdesk_api_reads_ratings_only_when_questions_are_named() -> None:
    tickets = [
        {"id": 5, "status": 4, "priority": 1, "source": 1, "created_at": "2025-04-01T08:00:00Z",
         "updated_at": "2025-04-01T09:00:00Z"}
    ]  # fmt: skip
    account = _FreshdeskAccount(tickets, [_rating(5, {"default_question": 101, NPS_QUESTION: 8})])
    entry = {"kind": "freshdesk_api", "name": "fd", "base_url": "https://acme.freshdesk.com",
             "token_env": "FD_TOKEN", "start_at": "2025-03-01"}  # fmt: skip
    now = datetime(2025, 4, 10, tzinfo=UTC)
    session = cast(ApiSession, account)
    surveyed = FreshdeskApiConfig.model_validate({**entry, "nps_question": NPS_QUESTION})
    [batch] = list(freshdesk_api_batches(surveyed, session, None, now, with_conversations=False))
    assert batch.interactions.select("csat", "nps", "ces").row(0) == (4, 8, None)
    [(_, params)] = [(p, q) for p, q in account.asked if p == RATINGS_PATH]
    assert params["created_since"] == "2025-03-01T00:00:00Z"
    account.asked.clear()
    plain = FreshdeskApiConfig.model_validate(entry)
    [batch] = list(freshdesk_api_batches(plain, session, None, now, with_conversations=False))
    assert batch.interactions["nps"].to_list() == [None]
    assert RATINGS_PATH not in [p for p, _ in account.asked]


def test_survey_options_are_validated() -> None:
    with pytest.raises(ValidationError, match="same custom field"):
        _zendesk(nps_field=5, ces_field=5)
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        _zendesk(nps_field=0)
    with pytest.raises(ValidationError, match="same question"):
        _freshdesk(nps_question="question_1", ces_question="question_1")
    with pytest.raises(ValidationError, match="default_question is the CSAT question"):
        _freshdesk(ces_question="default_question")
    with pytest.raises(ValidationError, match="should match pattern"):
        _freshdesk(nps_question="question 1")
    with pytest.raises(ValidationError, match="Extra inputs"):
        _freshdesk(nps_field=5)  # the Zendesk option on a Freshdesk connector


@settings(max_examples=200, deadline=None)
@given(value=st.one_of(st.integers(-20, 20), st.integers(-20, 20).map(str), st.floats(-20, 20)))
def test_survey_score_accepts_exactly_whole_answers_in_range(value: int | str | float) -> None:
    for score, (low, high) in (("nps", (0, 10)), ("ces", (1, 7))):
        number = float(value)
        if number.is_integer() and low <= number <= high:
            assert survey_score(value, "field", score) == int(number)
        else:
            with pytest.raises(RecordError) as error:
                survey_score(value, "field", score)
            assert error.value.field == "field"
