"""Entry point of the API connector kinds: one :class:`Batch` per page, each with its safe bookmark.

``run_batches`` commits every batch together with its bookmark, so a failure on page 3 keeps pages 1-2 and
the next run, given the stored bookmark, continues with page 3.

    report = run_batches(engine, config.name, api_batches(config, get_bookmark(engine, config.name), now=now))
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from datetime import datetime

import httpx

from connectors.base import Batch
from connectors.config import ApiConnector, FreshdeskApiConfig, ZendeskApiConfig
from connectors.freshdesk_api import freshdesk_api_batches
from connectors.http import ApiSession, Redactor, RetryPolicy, make_client, read_secret
from connectors.zendesk_api import zendesk_api_batches


def api_batches(
    connector: ApiConnector,
    bookmark: str | None,
    *,
    now: datetime,
    client: httpx.Client | None = None,
    retry: RetryPolicy | None = None,
) -> Iterator[Batch]:
    """Pull the connector's source page by page, from ``bookmark`` (None: from ``start_at``).

    The token is read from the environment when the first page is requested. ``client`` replaces the
    default client (its ``base_url`` is used instead of the config's; authentication is still added here).
    """
    if not isinstance(connector, ZendeskApiConfig | FreshdeskApiConfig):
        raise TypeError(
            f"no API puller for connector kind {getattr(connector, 'kind', type(connector).__name__)!r}"
        )
    policy = retry or RetryPolicy()
    token = read_secret(connector.token_env)
    redactor = Redactor()
    with ExitStack() as stack:
        http_client = (
            client if client is not None else stack.enter_context(make_client(connector.base_url, policy))
        )
        if isinstance(connector, ZendeskApiConfig):
            user = f"{connector.email}/token"
            redactor.add(token, basic_auth=(user, token))
            session = ApiSession(
                http_client,
                httpx.BasicAuth(user, token),
                redactor,
                policy,
                auth_hint=f"check that {connector.token_env} holds an API token of {connector.email}",
            )
            yield from zendesk_api_batches(connector, session, bookmark, now)
        else:
            redactor.add(token, basic_auth=(token, "X"))
            session = ApiSession(
                http_client,
                httpx.BasicAuth(token, "X"),
                redactor,
                policy,
                auth_hint=f"check that {connector.token_env} holds the API key of an agent",
            )
            yield from freshdesk_api_batches(connector, session, bookmark, now)
