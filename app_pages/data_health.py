"""Data health: is every connector delivering, and what did the imports refuse?

Per connector: last success, last failure with its message, bookmark and freshness (a connector with no
successful run within twice its schedule interval — 24 h when unscheduled — is stale and listed first);
rows per run for one connector; the quarantine with its reasons, filterable by source and file, and the
rejected rows as a CSV download.
"""

from __future__ import annotations

from datetime import UTC, datetime

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from app_pages import _data, _format
from connectors.run import DEFERRED_EVENT
from connectors.runner import connector_health

RUN_SERIES = (
    ("inserted", "Inserted", "#2e7d32"),
    ("updated", "Updated", "#1565c0"),
    ("unchanged", "Unchanged", "#9e9e9e"),
    ("quarantined", "Quarantined", "#c62828"),
)
QUARANTINE_COLUMNS = ["source", "record_kind", "file", "row", "field", "reason", "raw", "quarantined_at"]


def _age(now: datetime, then: datetime | None) -> str:
    if then is None:
        return "never"
    return _format.duration((now - then).total_seconds() / 60) + " ago"


def stale_warnings(health: pl.DataFrame, now: datetime) -> None:
    for row in health.filter(pl.col("stale")).iter_rows(named=True):
        window = _format.duration(row["fresh_within"].total_seconds() / 60)
        last = row["last_success_at"]
        said = f"last success {_age(now, last)}" if last else "no successful run yet"
        failure = f" Last failure: {row['last_failure_message']}" if row["last_failure_message"] else ""
        st.warning(
            f"**{row['connector']}** is stale: {said}, expected within {window} ({row['schedule']}).{failure}",
            icon=":material/schedule:",
        )


def health_table(health: pl.DataFrame, now: datetime) -> pl.DataFrame:
    return health.sort(["stale", "connector"], descending=[True, False]).select(
        pl.when(pl.col("stale")).then(pl.lit("⚠ stale")).otherwise(pl.lit("ok")).alias("Freshness"),
        pl.col("connector").alias("Connector"),
        pl.col("kind").alias("Kind"),
        pl.col("schedule").alias("Schedule"),
        pl.col("last_status").fill_null("never ran").alias("Last run"),
        pl.col("last_success_at").alias("Last success"),
        pl.col("last_success_at")
        .map_elements(lambda t: _age(now, t), return_dtype=pl.String, skip_nulls=False)
        .alias("Success age"),
        pl.col("last_failure_at").alias("Last failure"),
        pl.col("last_failure_message").alias("Failure message"),
        pl.col("bookmark").alias("Bookmark"),
    )


def rows_per_run_chart(runs: pl.DataFrame) -> go.Figure:
    ordered = runs.sort("started_at")
    figure = go.Figure()
    for column, label, colour in RUN_SERIES:
        figure.add_bar(
            x=ordered["started_at"].to_list(), y=ordered[column].to_list(), name=label, marker_color=colour
        )
    failed = ordered.filter(pl.col("status") == "failed")
    if failed.height:
        figure.add_scatter(
            x=failed["started_at"].to_list(),
            y=[0] * failed.height,
            mode="markers",
            marker={"symbol": "x", "size": 12, "color": "#000000"},
            name="Failed run",
            text=failed["message"].to_list(),
            hovertemplate="%{x}<br>%{text}<extra>failed</extra>",
        )
    figure.update_layout(
        barmode="stack",
        height=320,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis_title="Run started (UTC)",
        yaxis_title="Rows",
        legend={"orientation": "h"},
    )
    return figure


def quarantine_section(url: str) -> None:
    st.subheader("Quarantine")
    frame = _data.quarantine(url)
    if frame.is_empty():
        st.success("The quarantine is empty: every record read so far was loaded.", icon=":material/check:")
        return
    left, right = st.columns(2)
    sources = left.multiselect(
        "Source", frame["source"].unique().sort().to_list(), key="health_source", placeholder="All sources"
    )
    scoped = frame.filter(pl.col("source").is_in(sources)) if sources else frame
    files = right.multiselect(
        "File", scoped["file"].unique().sort().to_list(), key="health_file", placeholder="All files"
    )
    if files:
        scoped = scoped.filter(pl.col("file").is_in(files))
    waiting = scoped.filter(pl.col("record_kind") == DEFERRED_EVENT).height
    st.caption(
        f"{scoped.height:,} quarantined record(s). "
        + (
            f"{waiting:,} of them are events waiting for their interaction: they load by themselves once it "
            "arrives. "
            if waiting
            else ""
        )
        + "Fix the rest at the source (file, row and field are given) and re-export; a corrected row loads "
        "on the next run."
    )
    reasons = (
        scoped.group_by("source", "record_kind", "field", "reason")
        .agg(pl.len().alias("records"), pl.col("file").n_unique().alias("files"))
        .sort(["records", "reason"], descending=[True, False])
    )
    st.dataframe(reasons, hide_index=True, width="stretch", key="health_reasons")
    st.dataframe(
        scoped.select(QUARANTINE_COLUMNS).sort(
            ["quarantined_at", "file", "row"], descending=[True, False, False]
        ),
        hide_index=True,
        width="stretch",
        key="health_quarantine",
    )
    st.download_button(
        "Download the rejected rows (CSV)",
        data=scoped.select(QUARANTINE_COLUMNS).write_csv(),
        file_name="servicelens_quarantine.csv",
        mime="text/csv",
        key="health_download",
        icon=":material/download:",
    )


def render() -> None:
    st.title("Data health")
    url = _data.database_url()
    now = datetime.now(UTC)
    health = connector_health(_data.config().connectors, _data.last_runs(url), _data.bookmarks(url), now)
    if health.is_empty():
        st.info(
            "**No connector is configured and nothing was imported yet.** Add a connector to the config "
            "(`connectors:`) and run it with `servicelens ingest --connector NAME`, or load files with "
            "`servicelens ingest PATH`.",
            icon=":material/database:",
        )
    else:
        stale_warnings(health, now)
        st.caption(
            "Stale: no successful run within twice the schedule interval (24 h for connectors without a "
            "schedule). Times in UTC."
        )
        st.dataframe(
            health_table(health, now),
            hide_index=True,
            width="stretch",
            key="health_connectors",
            column_config={
                "Last success": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
                "Last failure": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
            },
        )
        ran = health.filter(pl.col("last_status").is_not_null())["connector"].to_list()
        if ran:
            st.subheader("Rows per run")
            chosen = st.selectbox("Connector", ran, key="health_connector")
            runs = _data.connector_runs(url, chosen)
            st.plotly_chart(rows_per_run_chart(runs), width="stretch", key="health_runs_chart")
            st.caption(
                f"The last {runs.height} run(s) of {chosen}; a cross marks a failed run (hover for its message)."
            )
    quarantine_section(url)


render()
