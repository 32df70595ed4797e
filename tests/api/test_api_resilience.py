"""Retries, rate limits, failures and resuming, against the local replay server and a real database."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.api import api_batches
from connectors.http import ApiError, RetryPolicy, read_secret, retry_after_seconds
from connectors.run import run_batches
from storage import runs
from storage.db import make_engine, upgrade
from storage.repo import read_events, read_interactions
from tests.api.conftest import TOKEN, ZENDESK_TICKETS, RecordingSleep, _cursor, client_for
from tests.api.replay import ReplayServer, Reply
from tests.api.test_api_zendesk import zendesk_config

PAGE = 30  # 87 recorded tickets: pages of 30, 30 and 27


def on_page(number: int):
    return lambda query: query.get("cursor") == _cursor(PAGE * (number - 1))


def new_engine(tmp_path: Path, name: str):
    engine = make_engine(f"sqlite:///{tmp_path / name}")
    upgrade(engine)
    return engine


def pull(server: ReplayServer, engine, token_env: str, now: datetime, retry: RetryPolicy, bookmark=None):
    config = zendesk_config(token_env, page_size=PAGE)
    with client_for(server) as client:
        return run_batches(
            engine, config.name, api_batches(config, bookmark, now=now, client=client, retry=retry), now=now
        )


def test_429_waits_for_retry_after_then_continues(
    zendesk_server: ReplayServer,
    token_env: str,
    now: datetime,
    fast_retry: RetryPolicy,
    sleeps: RecordingSleep,
    tmp_path: Path,
) -> None:
    zendesk_server.inject(
        ZENDESK_TICKETS, Reply(429, {"error": "TooManyRequests"}, {"Retry-After": "1"}), when=on_page(2)
    )
    engine = new_engine(tmp_path, "db.sqlite")
    report = pull(zendesk_server, engine, token_env, now, fast_retry)
    assert report.status == "succeeded" and report.counts.read == 87
    assert sleeps.delays == [1.0]
    assert len([r for r in zendesk_server.requests_to(ZENDESK_TICKETS) if on_page(2)(r.query)]) == 2


def test_transient_503_is_retried_with_backoff(
    zendesk_server: ReplayServer,
    token_env: str,
    now: datetime,
    fast_retry: RetryPolicy,
    sleeps: RecordingSleep,
    tmp_path: Path,
) -> None:
    zendesk_server.inject(ZENDESK_TICKETS, Reply(503), Reply(503), when=on_page(3))
    report = pull(zendesk_server, new_engine(tmp_path, "db.sqlite"), token_env, now, fast_retry)
    assert report.status == "succeeded" and report.counts.read == 87
    assert len(sleeps.delays) == 2
    assert 0.005 <= sleeps.delays[0] <= 0.01 and 0.01 <= sleeps.delays[1] <= 0.02


def test_repeated_500_fails_the_run_cleanly_and_a_second_run_resumes(
    zendesk_server: ReplayServer, token_env: str, now: datetime, fast_retry: RetryPolicy, tmp_path: Path
) -> None:
    engine = new_engine(tmp_path, "resumed.sqlite")
    zendesk_server.inject(ZENDESK_TICKETS, *[Reply(500, {"error": "boom"})] * 3, when=on_page(3))
    with pytest.raises(ApiError, match=r"failed 3 times in a row.*HTTP 500"):
        pull(zendesk_server, engine, token_env, now, fast_retry)

    failed = runs.read_runs(engine, "zendesk-live").row(0, named=True)
    assert failed["status"] == "failed"
    assert "GET /api/v2/incremental/tickets/cursor.json failed 3 times" in failed["message"]
    assert read_interactions(engine).height == 2 * PAGE  # pages 1 and 2 are kept
    bookmark = runs.get_bookmark(engine, "zendesk-live")
    assert bookmark == _cursor(2 * PAGE)

    zendesk_server.requests.clear()
    resumed = pull(zendesk_server, engine, token_env, now + timedelta(minutes=5), fast_retry, bookmark)
    assert resumed.status == "succeeded" and resumed.counts.read == 87 - 2 * PAGE
    assert zendesk_server.requests_to(ZENDESK_TICKETS)[0].query == {
        "per_page": str(PAGE),
        "include": "metric_sets,users,groups,organizations",
        "cursor": bookmark,
    }

    clean = new_engine(tmp_path, "clean.sqlite")
    pull(zendesk_server, clean, token_env, now, fast_retry)
    assert_same_rows(
        read_interactions(engine), read_interactions(clean), "interaction_id", ignore=("ingested_at",)
    )
    assert_same_rows(read_events(engine), read_events(clean), "interaction_id", ignore=())
    assert runs.get_bookmark(engine, "zendesk-live") == runs.get_bookmark(clean, "zendesk-live")


def assert_same_rows(left: pl.DataFrame, right: pl.DataFrame, key: str, ignore: tuple[str, ...]) -> None:
    columns = [c for c in left.columns if c not in ignore]
    order = [key, *[c for c in columns if c != key and left.schema[c] != pl.List(pl.String)]]
    a = left.select(columns).sort(order, nulls_last=True)
    b = right.select(columns).sort(order, nulls_last=True)
    assert a.height == b.height > 0
    assert a.equals(b)


def test_connect_errors_are_retried_then_fail_with_a_clear_message(
    token_env: str, now: datetime, fast_retry: RetryPolicy, sleeps: RecordingSleep
) -> None:
    import httpx

    closed = ReplayServer(lambda _p, _q: None).start()
    url = closed.url
    closed.stop()  # nothing listens on this port any more
    config = zendesk_config(token_env)
    with httpx.Client(base_url=url, timeout=2) as client, pytest.raises(ApiError, match="ConnectError"):
        list(api_batches(config, None, now=now, client=client, retry=fast_retry))
    assert len(sleeps.delays) == fast_retry.max_attempts - 1


def test_bad_credentials_fail_at_once_with_a_hint(
    zendesk_server: ReplayServer, monkeypatch: pytest.MonkeyPatch, now: datetime, fast_retry: RetryPolicy
) -> None:
    monkeypatch.setenv("HELPDESK_API_TOKEN", "not-the-right-token")
    with (
        client_for(zendesk_server) as client,
        pytest.raises(ApiError, match=r"HTTP 401.*HELPDESK_API_TOKEN") as info,
    ):
        list(
            api_batches(zendesk_config("HELPDESK_API_TOKEN"), None, now=now, client=client, retry=fast_retry)
        )
    assert info.value.status == 401
    assert len(zendesk_server.requests) == 1
    assert "not-the-right-token" not in str(info.value)


def test_the_token_never_reaches_logs_errors_or_run_records(
    zendesk_server: ReplayServer,
    token_env: str,
    now: datetime,
    fast_retry: RetryPolicy,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A misbehaving proxy echoes the credentials back in its error pages.
    echo = {"error": f"upstream rejected Authorization {zendesk_server.expected_authorization} token={TOKEN}"}
    zendesk_server.inject(ZENDESK_TICKETS, Reply(502, echo), *[Reply(500, echo)] * 3, when=on_page(2))
    engine = new_engine(tmp_path, "leak.sqlite")
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ApiError) as info:
        pull(zendesk_server, engine, token_env, now, fast_retry)

    encoded = (zendesk_server.expected_authorization or "").removeprefix("Basic ")
    stored = runs.read_runs(engine).write_json() + runs.read_quarantine(engine).write_json()
    texts = {"exception": str(info.value) + repr(info.value), "logs": caplog.text, "database": stored}
    assert "upstream rejected" in texts["exception"]  # the body is quoted, with the secret masked
    assert "***" in texts["exception"] and "***" in caplog.text
    for where, text in texts.items():
        assert TOKEN not in text, where
        assert encoded not in text, where


def test_missing_token_names_the_variable_not_a_value(now: datetime, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_SUCH_TOKEN", raising=False)
    monkeypatch.delenv("NO_SUCH_TOKEN_FILE", raising=False)
    with pytest.raises(ApiError, match=r"NO_SUCH_TOKEN is not set \(nor NO_SUCH_TOKEN_FILE\)"):
        list(api_batches(zendesk_config("NO_SUCH_TOKEN"), None, now=now))


def test_the_token_may_come_from_a_secrets_file(tmp_path: Path) -> None:
    secret = tmp_path / "zendesk_token"
    secret.write_text(f"{TOKEN}\n")
    assert read_secret("ZD", {"ZD_FILE": str(secret)}) == TOKEN
    assert read_secret("ZD", {"ZD": "from-env", "ZD_FILE": str(secret)}) == "from-env"
    with pytest.raises(ApiError, match="cannot read the token file"):
        read_secret("ZD", {"ZD_FILE": str(tmp_path / "missing")})


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
    assert retry_after_seconds("7", now) == 7.0
    assert retry_after_seconds(format_datetime(now + timedelta(seconds=42), usegmt=True), now) == 42.0
    assert retry_after_seconds(format_datetime(now - timedelta(seconds=5), usegmt=True), now) == 0.0
    assert retry_after_seconds("soon", now) is None
    assert retry_after_seconds(None, now) is None


def test_an_http_date_retry_after_is_honoured(
    zendesk_server: ReplayServer, token_env: str, now: datetime, sleeps: RecordingSleep, tmp_path: Path
) -> None:
    wall = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
    policy = RetryPolicy(base_delay=0.01, sleep=sleeps, clock=lambda: wall)
    header = format_datetime(wall + timedelta(seconds=1), usegmt=True)
    zendesk_server.inject(ZENDESK_TICKETS, Reply(429, None, {"Retry-After": header}))
    report = pull(zendesk_server, new_engine(tmp_path, "db.sqlite"), token_env, now, policy)
    assert report.status == "succeeded"
    assert sleeps.delays == [1.0]


def test_a_retry_after_beyond_the_limit_ends_the_run(
    zendesk_server: ReplayServer, token_env: str, now: datetime, sleeps: RecordingSleep, tmp_path: Path
) -> None:
    policy = RetryPolicy(max_retry_after=60, sleep=sleeps)
    zendesk_server.inject(ZENDESK_TICKETS, Reply(429, None, {"Retry-After": "3600"}))
    with pytest.raises(ApiError, match=r"Retry-After '3600'"):
        pull(zendesk_server, new_engine(tmp_path, "db.sqlite"), token_env, now, policy)
    assert sleeps.delays == []


@settings(max_examples=200, deadline=None)
@given(
    attempt=st.integers(1, 40), base=st.floats(0.01, 5), cap=st.floats(0.05, 120), seed=st.integers(0, 2**16)
)
def test_backoff_doubles_with_jitter_up_to_the_cap(attempt: int, base: float, cap: float, seed: int) -> None:
    import random

    policy = RetryPolicy(base_delay=base, max_delay=cap, rng=random.Random(seed))
    ceiling = min(cap, base * 2 ** (attempt - 1))
    assert ceiling / 2 <= policy.backoff(attempt) <= ceiling
