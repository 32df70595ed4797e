"""HTTP plumbing of the API connectors: the secret, the client, retries, rate limits and redaction.

The token is read at run time from the environment variable the config names (or from the file named by
``<NAME>_FILE``, the Docker / Kubernetes secrets convention) and never kept in config. Every message this
module writes or raises passes through :meth:`Redactor.redact`, so the token cannot leak into logs, errors
or stored run messages even when a server echoes it back.

Retries: connect errors, timeouts and 5xx are retried with exponential backoff and jitter; 429 waits for
``Retry-After`` (seconds or an HTTP date). When the attempts run out :class:`ApiError` ends the run with a
message naming the request and the last failure.
"""

from __future__ import annotations

import base64
import logging
import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx

logger = logging.getLogger("servicelens.connectors.api")

USER_AGENT = "servicelens-connector/0.1"
_BODY_SNIPPET = 300
Params = Mapping[str, str | int]


class ApiError(RuntimeError):
    """A request that cannot succeed (bad credentials, missing resource, retries exhausted).

    The message is already redacted; ``status`` is the last HTTP status, None for network failures.
    """

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


def read_secret(env_name: str, environ: Mapping[str, str] | None = None) -> str:
    """The token held by environment variable ``env_name``, or by the file that ``<env_name>_FILE`` names."""
    env = os.environ if environ is None else environ
    value = env.get(env_name, "").strip()
    if value:
        return value
    file_name = env.get(f"{env_name}_FILE", "").strip()
    if file_name:
        path = Path(file_name).expanduser()
        try:
            value = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ApiError(
                f"cannot read the token file {path} named by {env_name}_FILE: {exc.strerror}"
            ) from None
        if value:
            return value
        raise ApiError(f"the token file {path} named by {env_name}_FILE is empty")
    raise ApiError(
        f"environment variable {env_name} is not set (nor {env_name}_FILE): put the API token there "
        "before running this connector"
    )


class Redactor:
    """Replaces every known secret (and its basic-auth encodings) in a text by ``***``."""

    MASK = "***"

    def __init__(self, *secrets: str):
        self._needles: list[str] = []
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str, *, basic_auth: tuple[str, str] | None = None) -> None:
        """Mask ``secret``, and the ``Authorization: Basic`` value of the (user, password) pair holding it."""
        candidates = [secret]
        if basic_auth is not None:
            user, password = basic_auth
            candidates.append(base64.b64encode(f"{user}:{password}".encode()).decode())
        for candidate in candidates:
            if len(candidate) >= 4 and candidate not in self._needles:
                self._needles.append(candidate)
        self._needles.sort(key=len, reverse=True)  # longest first so encodings are masked whole

    def redact(self, text: str) -> str:
        for needle in self._needles:
            text = text.replace(needle, self.MASK)
        return text


@dataclass
class RetryPolicy:
    """How hard a request is retried. ``sleep``, ``clock`` and ``rng`` are injectable for tests."""

    max_attempts: int = 5  # for connect errors, timeouts and 5xx
    base_delay: float = 1.0
    max_delay: float = 60.0
    max_rate_limit_waits: int = 20
    max_retry_after: float = 900.0  # a longer Retry-After ends the run instead of blocking it
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    rng: random.Random = field(default_factory=random.Random)

    def backoff(self, attempt: int) -> float:
        """Delay before retry number ``attempt`` (1-based): half fixed, half random ("equal jitter")."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)

    def timeout(self) -> httpx.Timeout:
        return httpx.Timeout(self.read_timeout, connect=self.connect_timeout)


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delay-seconds or HTTP date); None when unreadable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def make_client(base_url: str, policy: RetryPolicy | None = None) -> httpx.Client:
    """The client used when the caller gives none: account root, timeouts, no redirects to other hosts."""
    chosen = policy or RetryPolicy()
    return httpx.Client(
        base_url=base_url,
        timeout=chosen.timeout(),
        headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        follow_redirects=False,
    )


class ApiSession:
    """GET requests against one account with authentication, retries and redacted diagnostics."""

    def __init__(
        self,
        client: httpx.Client,
        auth: httpx.Auth,
        redactor: Redactor,
        policy: RetryPolicy | None = None,
        auth_hint: str = "",
    ):
        self.client = client
        self.auth = auth
        self.redactor = redactor
        self.policy = policy or RetryPolicy()
        self.auth_hint = auth_hint
        self.requests_sent = 0

    def get_json(self, path: str, params: Params | None = None, *, missing_ok: bool = False) -> Any:
        """The decoded JSON body of ``GET path``; None for 404 when ``missing_ok`` (e.g. a deleted ticket)."""
        if "://" in path:
            # Servers hand out absolute next-page URLs; following them could send the token to another host.
            raise ValueError(f"only paths relative to the account root are requested, not {path!r}")
        label = f"GET {path}"
        failures = 0
        rate_limit_waits = 0
        while True:
            try:
                response = self._send(path, params)
            except httpx.TransportError as exc:
                failures += 1
                reason = f"{type(exc).__name__}: {exc}"
                self._pause_or_fail(label, reason, failures, None)
                continue
            status = response.status_code
            if status == 429:
                rate_limit_waits += 1
                self._wait_rate_limit(label, response, rate_limit_waits)
                continue
            if status >= 500:
                failures += 1
                self._pause_or_fail(label, f"HTTP {status}{self._snippet(response)}", failures, status)
                continue
            if status == 404 and missing_ok:
                logger.info("%s: not found (HTTP 404), skipped", self.redactor.redact(label))
                return None
            if status >= 400:
                raise ApiError(self._client_error(label, response), status)
            try:
                return response.json()
            except ValueError:
                raise ApiError(
                    self.redactor.redact(f"{label} answered HTTP {status} with a body that is not JSON"),
                    status,
                ) from None

    def _send(self, path: str, params: Params | None) -> httpx.Response:
        self.requests_sent += 1
        logger.debug("GET %s %s", path, self.redactor.redact(str(dict(params or {}))))
        return self.client.get(
            path,
            params=dict(params) if params else None,
            auth=self.auth,
            timeout=self.policy.timeout(),
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        )

    def _pause_or_fail(self, label: str, reason: str, failures: int, status: int | None) -> None:
        reason = self.redactor.redact(reason)
        if failures >= self.policy.max_attempts:
            raise ApiError(
                f"{label} failed {failures} times in a row, giving up; last error: {reason}. "
                "Pages loaded before this one are kept; the next run resumes after them.",
                status,
            )
        delay = self.policy.backoff(failures)
        logger.warning("%s: %s; retry %d in %.2fs", label, reason, failures, delay)
        self.policy.sleep(delay)

    def _wait_rate_limit(self, label: str, response: httpx.Response, waits: int) -> None:
        header = response.headers.get("Retry-After")
        delay = retry_after_seconds(header, self.policy.clock())
        if delay is None:
            delay = self.policy.backoff(waits)
        if waits > self.policy.max_rate_limit_waits:
            raise ApiError(f"{label} was rate limited (HTTP 429) {waits} times in a row, giving up", 429)
        if delay > self.policy.max_retry_after:
            raise ApiError(
                f"{label} was rate limited (HTTP 429) with Retry-After {header!r} "
                f"({delay:.0f}s, more than {self.policy.max_retry_after:.0f}s); try again later",
                429,
            )
        logger.warning("%s: rate limited (HTTP 429), waiting %.2fs as Retry-After asks", label, delay)
        self.policy.sleep(delay)

    def _client_error(self, label: str, response: httpx.Response) -> str:
        status = response.status_code
        hints = {
            401: f"authentication failed{': ' + self.auth_hint if self.auth_hint else ''}",
            403: "the token's user may not read this resource (check its role)",
            404: "not found (check base_url)",
        }
        hint = hints.get(status, "the request was refused")
        return self.redactor.redact(f"{label} answered HTTP {status}: {hint}{self._snippet(response)}")

    def _snippet(self, response: httpx.Response) -> str:
        text = " ".join(response.text.split())[:_BODY_SNIPPET]
        return f" ({self.redactor.redact(text)})" if text else ""
