"""The only door from the dashboard to the database: one cached engine, cached loaders keyed on plain values.

Loaders take the database URL (so a changed configuration is a new cache entry) and, for filtered views, the
frozen :class:`~app_pages._filters.Filters`. Entries expire after ``ttl`` seconds so newly ingested data shows
up without a restart.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import polars as pl
import sqlalchemy as sa
import streamlit as st

from servicelens import kpis
from servicelens.config import ConfigError, MetricsSettings, ServicelensConfig, load_config
from servicelens.model import EventType
from storage.db import make_engine, upgrade
from storage.repo import last_ingest_at, read_events, read_interactions

if TYPE_CHECKING:
    from app_pages._filters import Filters

DATA_TTL_SECONDS = 60
FRESHNESS_TTL_SECONDS = 15


def config() -> ServicelensConfig:
    """The configuration, or a page-stopping error listing every problem in it."""
    try:
        return load_config()
    except ConfigError as exc:
        st.error(
            f"The configuration in `{exc.source}` cannot be used:\n\n"
            + "\n".join(f"- {e}" for e in exc.errors)
        )
        st.stop()
        raise  # st.stop() raises; this line only tells type checkers the function ends here


def database_url() -> str:
    return config().database.resolved_url()


def metrics_settings() -> MetricsSettings:
    return config().metrics


@st.cache_resource(show_spinner=False)
def engine_for(url: str) -> sa.Engine:
    """One engine per database for the whole server; the schema is brought up to date once."""
    engine = make_engine(url)
    upgrade(engine)
    return engine


@st.cache_data(ttl=DATA_TTL_SECONDS, max_entries=4, show_spinner="Loading interactions…")
def interactions(url: str) -> pl.DataFrame:
    return read_interactions(engine_for(url))


@st.cache_data(ttl=DATA_TTL_SECONDS, max_entries=4, show_spinner=False)
def agent_replies(url: str) -> pl.DataFrame:
    """Public agent replies only: all that first-contact resolution needs from the event history."""
    events = read_events(engine_for(url))
    return events.filter(pl.col("type") == EventType.AGENT_REPLY.value).select("interaction_id", "at", "type")


@st.cache_data(ttl=FRESHNESS_TTL_SECONDS, max_entries=4, show_spinner=False)
def freshness(url: str) -> tuple[datetime | None, datetime | None]:
    """(latest ``updated_at`` of any interaction, end of the last successful ingest)."""
    latest = interactions(url).select(pl.col("updated_at").max()).item()
    return latest, last_ingest_at(engine_for(url))


@st.cache_data(ttl=DATA_TTL_SECONDS, max_entries=32, show_spinner=False)
def filtered_interactions(url: str, filters: Filters) -> pl.DataFrame:
    return interactions(url).filter(filters.expr())


@st.cache_data(ttl=DATA_TTL_SECONDS, max_entries=32, show_spinner="Computing KPIs…")
def overview_kpis(
    url: str, filters: Filters, window_days: int, interpolation: str
) -> dict[str, pl.DataFrame]:
    """Headline KPIs, weekly trend and the location x team breakdown for one filtered view."""
    now = datetime.now(UTC)
    scoped = filtered_interactions(url, filters)
    replies = agent_replies(url)
    everyone = interactions(url)  # repeat contacts count wherever they land

    def all_kpis(by: list[str]) -> dict[str, pl.LazyFrame]:
        return {
            "volume": kpis.volume(scoped, by),
            "csat": kpis.csat(scoped, by),
            "nps": kpis.nps(scoped, by),
            "ces": kpis.ces(scoped, by),
            "fcr": kpis.fcr(
                scoped, replies, now=now, window_days=window_days, by=by, customers_from=everyone
            ),
            "median_first_response_minutes": kpis.median_first_response_minutes(scoped, by, interpolation),
            "median_resolution_minutes": kpis.median_resolution_minutes(scoped, by, interpolation),
        }

    headline = all_kpis([])
    breakdown = all_kpis(["location", "team"])
    weekly = scoped.with_columns(kpis.week_start())
    trend = {"volume": kpis.volume(weekly, ["week"]), "csat": kpis.csat(weekly, ["week"])}
    frames = pl.collect_all(
        [*headline.values(), *breakdown.values(), *trend.values()],
    )
    keys = [f"headline.{k}" for k in headline] + [f"breakdown.{k}" for k in breakdown]
    keys += [f"trend.{k}" for k in trend]
    return dict(zip(keys, frames, strict=True))
