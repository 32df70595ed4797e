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

from audits.scoring import Dispute, Review
from servicelens import kpis
from servicelens.config import ConfigError, MetricsSettings, ServicelensConfig, load_config
from servicelens.model import EventType
from storage import audit_repo, calibration_repo
from storage.db import make_engine, upgrade
from storage.repo import last_ingest_at, read_events, read_interactions
from storage.sla_repo import EvaluationInfo

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


# --- QA audit workbench ----------------------------------------------------------------------------------
# Audit data changes while people work, so every writer calls clear_audit_data() after its transaction.


@st.cache_data(ttl=DATA_TTL_SECONDS, max_entries=4, show_spinner=False)
def audit_reviews(url: str) -> tuple[list[Review], list[Dispute]]:
    """Every review revision and every dispute."""
    engine = engine_for(url)
    return audit_repo.load_reviews(engine), audit_repo.load_disputes(engine)


@st.cache_data(ttl=DATA_TTL_SECONDS, max_entries=4, show_spinner=False)
def audit_batch_items(url: str) -> pl.DataFrame:
    """Every sampled interaction with its auditor and, when done, that auditor's review id."""
    return audit_repo.read_batch_items(engine_for(url))


@st.cache_data(ttl=DATA_TTL_SECONDS, max_entries=256, show_spinner=False)
def interaction_events(url: str, interaction_id: str) -> pl.DataFrame:
    """The full event history of one interaction, for its transcript and timeline."""
    return read_events(engine_for(url), [interaction_id])


@st.cache_data(ttl=DATA_TTL_SECONDS, max_entries=64, show_spinner=False)
def review_history(url: str, review_id: str) -> pl.DataFrame:
    return audit_repo.review_history(engine_for(url), review_id)


@st.cache_data(ttl=DATA_TTL_SECONDS, max_entries=4, show_spinner="Loading check results…")
def check_results(url: str) -> pl.DataFrame:
    return audit_repo.read_check_results(engine_for(url))


@st.cache_data(ttl=DATA_TTL_SECONDS, max_entries=4, show_spinner=False)
def calibration_sessions(url: str) -> list[calibration_repo.CalibrationSession]:
    return calibration_repo.read_calibration_sessions(engine_for(url))


@st.cache_data(ttl=DATA_TTL_SECONDS, max_entries=16, show_spinner=False)
def calibration_scores(url: str, session_id: str, scorecard_id: str, scorecard_version: int) -> pl.DataFrame:
    card = config().audits.scorecard(scorecard_id, scorecard_version)
    return calibration_repo.read_calibration_scores(engine_for(url), session_id, card)


@st.cache_data(ttl=DATA_TTL_SECONDS, max_entries=4, show_spinner=False)
def audit_reassignments(url: str) -> pl.DataFrame:
    """Every replacement of an auditor, oldest first."""
    return audit_repo.read_reassignments(engine_for(url))


def clear_audit_data() -> None:
    """Forget cached audit data after a write, so the next run shows it."""
    for loader in (
        audit_reassignments,
        audit_reviews,
        audit_batch_items,
        review_history,
        check_results,
        calibration_sessions,
        calibration_scores,
    ):
        loader.clear()


# --- data health -----------------------------------------------------------------------------------------


@st.cache_data(ttl=FRESHNESS_TTL_SECONDS, max_entries=4, show_spinner=False)
def last_runs(url: str) -> pl.DataFrame:
    """Per connector: latest status, latest success and latest failure (``storage.runs.read_last_runs``)."""
    from storage.runs import read_last_runs

    return read_last_runs(engine_for(url))


@st.cache_data(ttl=FRESHNESS_TTL_SECONDS, max_entries=4, show_spinner=False)
def bookmarks(url: str) -> pl.DataFrame:
    from storage.runs import read_bookmarks

    return read_bookmarks(engine_for(url))


@st.cache_data(ttl=FRESHNESS_TTL_SECONDS, max_entries=16, show_spinner=False)
def connector_runs(url: str, connector: str, limit: int = 200) -> pl.DataFrame:
    """The latest ``limit`` runs of one connector, newest first."""
    from storage.runs import read_runs

    return read_runs(engine_for(url), connector, limit)


@st.cache_data(ttl=FRESHNESS_TTL_SECONDS, max_entries=4, show_spinner="Loading the quarantine…")
def quarantine(url: str) -> pl.DataFrame:
    from storage.runs import read_quarantine

    return read_quarantine(engine_for(url))


# --- SLAs ------------------------------------------------------------------------------------------------
# Stored results come from `servicelens sla evaluate`; what-if views evaluate the pure engine in memory on
# the cached frames with a changed configuration and never write.


@st.cache_data(ttl=DATA_TTL_SECONDS, max_entries=4, show_spinner="Loading SLA results…")
def sla_results(url: str) -> pl.DataFrame:
    """Every stored SLA clock (``storage.sla_repo.STORED_SCHEMA``)."""
    from storage.sla_repo import read_results

    return read_results(engine_for(url))


@st.cache_data(ttl=FRESHNESS_TTL_SECONDS, max_entries=4, show_spinner=False)
def sla_evaluation_info(url: str) -> EvaluationInfo:
    from storage.sla_repo import evaluation_info

    return evaluation_info(engine_for(url))


@st.cache_data(ttl=DATA_TTL_SECONDS, max_entries=4, show_spinner="Loading the event history…")
def sla_clock_events(url: str) -> pl.DataFrame:
    """Every event without its text: what the SLA engine reads."""
    from storage.sla_repo import read_clock_events

    return read_clock_events(engine_for(url))


@st.cache_data(ttl=DATA_TTL_SECONDS, max_entries=32, show_spinner=False)
def sla_view(url: str, filters: Filters, sla_config_json: str) -> dict[str, pl.DataFrame]:
    """Stored clocks of the filtered interactions and their compliance by team x location and local week."""
    from sla.compliance import compliance
    from sla.config import SlaConfig

    sla = SlaConfig.model_validate_json(sla_config_json)
    scoped = filtered_interactions(url, filters)
    results = sla_results(url).join(scoped.select("interaction_id"), on="interaction_id", how="semi")
    lazy, people = results.lazy(), scoped.lazy()
    grid, weekly = pl.collect_all(
        [
            compliance(lazy, people, by=["team", "location"], config=sla),
            compliance(lazy, people, by=["week"], config=sla),
        ]
    )
    return {"results": results, "grid": grid, "weekly": weekly}


@st.cache_data(ttl=DATA_TTL_SECONDS, max_entries=16, show_spinner="Recomputing SLAs…")
def sla_what_if(url: str, filters: Filters, sla_config_json: str, now: datetime) -> pl.DataFrame:
    """The filtered interactions evaluated in memory under the given ``sla:`` config, as of ``now``."""
    from sla.config import SlaConfig
    from sla.evaluate import evaluate_detailed

    sla = SlaConfig.model_validate_json(sla_config_json)
    scoped = filtered_interactions(url, filters)
    events = sla_clock_events(url).join(scoped.select("interaction_id"), on="interaction_id", how="semi")
    return evaluate_detailed(scoped.lazy(), events.lazy(), sla, now).collect()


@st.cache_data(ttl=DATA_TTL_SECONDS, max_entries=64, show_spinner=False)
def sla_timeline(url: str, interaction_id: str, sla_config_json: str, now: datetime) -> pl.DataFrame:
    """When each clock of one interaction ran, paused and was due (``sla.timeline.TIMELINE_COLUMNS``)."""
    from sla.config import SlaConfig
    from sla.timeline import timeline

    sla = SlaConfig.model_validate_json(sla_config_json)
    one = interactions(url).filter(pl.col("interaction_id") == interaction_id)
    events = interaction_events(url, interaction_id)
    return timeline(one.lazy(), events.lazy(), sla, now, interaction_id)


@st.cache_data(ttl=DATA_TTL_SECONDS, max_entries=32, show_spinner=False)
def overview_business_medians(
    url: str, filters: Filters, interpolation: str
) -> dict[str, pl.DataFrame] | None:
    """Business-minute medians of first response and resolution from the stored SLA clocks; None when no
    results are stored (the Overview then shows calendar time)."""
    results = sla_results(url)
    if results.is_empty():
        return None
    scoped = filtered_interactions(url, filters)
    frames = pl.collect_all(
        [
            kpis.median_business_minutes(results, scoped, metric, by, interpolation)
            for by in ([], ["location", "team"])
            for metric in ("first_response", "resolution")
        ]
    )
    keys = [
        f"{scope}.{name}"
        for scope in ("headline", "breakdown")
        for name in ("median_first_response_minutes", "median_resolution_minutes")
    ]
    return dict(zip(keys, frames, strict=True))
