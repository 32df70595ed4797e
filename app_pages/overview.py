"""Overview: how the service is doing in the chosen period and places, every figure with its n and interval."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import plotly.graph_objects as go
import polars as pl
import streamlit as st
from plotly.subplots import make_subplots

from app_pages import _data, _format
from app_pages._empty import scoped_interactions
from servicelens.kpis import SMALL_N


@dataclass(frozen=True)
class Tile:
    kpi: str
    label: str
    show: Callable[[float | None], str]
    unit: str  # what n counts
    explanation: str
    show_bound: Callable[[float | None], str] | None = None  # interval ends, when unlike the value

    def bound(self, value: float | None) -> str:
        return (self.show_bound or self.show)(value)


TILES = (
    Tile("volume", "Volume", _format.count, "interactions", "Interactions created in the period."),
    Tile("csat", "CSAT", _format.percent, "rated", "Share of satisfaction ratings of 4 or 5 (out of 5)."),
    Tile(
        "nps",
        "NPS",
        _format.nps_points,
        "answered",
        "% promoters (9-10) minus % detractors (0-6), in points.",
    ),
    Tile(
        "ces",
        "CES",
        _format.effort,
        "answered",
        "Mean customer effort score, 1-7 (7 = very easy).",
        show_bound=_format.decimal,
    ),
    Tile(
        "fcr",
        "FCR",
        _format.percent,
        "resolved",
        "Resolved with at most one public reply, never reopened, and no new contact from the customer within "
        "the repeat window. Counts only resolutions whose window is over.",
    ),
    Tile(
        "median_first_response_minutes",
        "Median first response",
        _format.duration,
        "answered",
        "Median calendar time from creation to the first public agent reply.",
    ),
    Tile(
        "median_resolution_minutes",
        "Median resolution time",
        _format.duration,
        "resolved",
        "Median calendar time from creation to resolution.",
    ),
)


# With stored SLA results the two durations are business time: the opening hours of each interaction's
# calendar, as the SLA clocks count them; without them they fall back to calendar time.
BUSINESS_TIME_EXPLANATIONS = {
    "median_first_response_minutes": "Median business time (opening hours of the interaction's SLA calendar) "
    "from creation to the first public agent reply.",
    "median_resolution_minutes": "Median business time the resolution clock counted (opening hours, waiting "
    "on the customer excluded, reopens added up) among resolved interactions.",
}


def tiles_for(business_time: bool) -> tuple[Tile, ...]:
    if not business_time:
        return TILES
    return tuple(
        replace(tile, explanation=BUSINESS_TIME_EXPLANATIONS[tile.kpi])
        if tile.kpi in BUSINESS_TIME_EXPLANATIONS
        else tile
        for tile in TILES
    )


def tile_caption(tile: Tile, row: dict[str, float | int | None]) -> str:
    n = int(row["n"] or 0)
    if tile.kpi == "volume":
        return f"n = {n:,} {tile.unit}"  # a complete count, not a sample
    if n == 0:
        return f"n = 0 {tile.unit}: nothing to measure in this view"
    note = _format.sample_note(n, tile.unit)
    if row["ci_low"] is None or row["ci_high"] is None:
        return f"{note} · too few for an interval"
    return f"{note} · 95% CI {_format.interval(tile.bound(row['ci_low']), tile.bound(row['ci_high']))}"


def headline_tiles(results: dict[str, pl.DataFrame], business_time: bool = False) -> None:
    tiles = tiles_for(business_time)
    rows = [tiles[:4], tiles[4:]]
    for tiles in rows:
        for column, tile in zip(st.columns(4), tiles, strict=False):
            row = results[f"headline.{tile.kpi}"].row(0, named=True)
            with column:
                st.metric(tile.label, tile.show(row["value"]), help=tile.explanation)
                st.caption(tile_caption(tile, row))


def trend_chart(results: dict[str, pl.DataFrame]) -> go.Figure:
    volume = results["trend.volume"]
    csat = results["trend.csat"].filter(pl.col("n") > 0)
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    figure.add_trace(
        go.Bar(x=volume["week"].to_list(), y=volume["n"].to_list(), name="Volume", marker_color="#c9d6e8"),
        secondary_y=False,
    )
    small = [n < SMALL_N for n in csat["n"].to_list()]
    figure.add_trace(
        go.Scatter(
            x=csat["week"].to_list(),
            y=[100 * v for v in csat["value"].to_list()],
            error_y={
                "type": "data",
                "symmetric": False,
                "array": [100 * (h - v) for h, v in zip(csat["ci_high"], csat["value"], strict=True)],
                "arrayminus": [100 * (v - lo) for lo, v in zip(csat["ci_low"], csat["value"], strict=True)],
            },
            customdata=csat["n"].to_list(),
            hovertemplate="week of %{x|%Y-%m-%d}<br>CSAT %{y:.1f}%<br>n = %{customdata} rated<extra></extra>",
            mode="lines+markers",
            marker={"symbol": ["circle-open" if s else "circle" for s in small], "size": 9},
            name="CSAT % (95% CI; hollow = n < 30)",
            line={"color": "#1f4e8c"},
        ),
        secondary_y=True,
    )
    figure.update_yaxes(title_text="Interactions per week", secondary_y=False)
    figure.update_yaxes(title_text="CSAT %", range=[0, 100], secondary_y=True)
    figure.update_layout(
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        legend={"orientation": "h", "y": 1.12},
        xaxis_title="Week starting (Monday, UTC)",
    )
    return figure


def _with_interval(frame: pl.DataFrame, name: str, scale: float = 100.0) -> pl.DataFrame:
    return frame.select(
        "location",
        "team",
        (pl.col("value") * scale).alias(name),
        pl.concat_str(
            [
                (pl.col("ci_low") * scale).round(0).cast(pl.Int64).cast(pl.String),
                (pl.col("ci_high") * scale).round(0).cast(pl.Int64).cast(pl.String),
            ],
            separator="–",
        ).alias(f"{name} 95% CI"),
        pl.col("n").alias(f"{name} n"),
    )


FIRST_RESPONSE_COLUMN = {False: "Median first response (min)", True: "Median first response (business min)"}


def breakdown_table(results: dict[str, pl.DataFrame], business_time: bool = False) -> pl.DataFrame:
    """One row per location and team, in name order (not a ranking): each rate with its n and interval."""
    keys = ["location", "team"]
    table = results["breakdown.volume"].select(*keys, pl.col("n").alias("Interactions"))
    for kpi, name in (("csat", "CSAT %"), ("fcr", "FCR %")):
        table = table.join(
            _with_interval(results[f"breakdown.{kpi}"], name),
            on=keys,
            how="left",
            maintain_order="left",
            nulls_equal=True,
        )
    first_response = results["breakdown.median_first_response_minutes"].select(
        *keys,
        pl.col("value").alias(FIRST_RESPONSE_COLUMN[business_time]),
        pl.col("n").alias("First response n"),
    )
    table = table.join(first_response, on=keys, how="left", maintain_order="left", nulls_equal=True)
    small = (pl.col("CSAT % n") < SMALL_N) | (pl.col("FCR % n") < SMALL_N)
    return table.with_columns(
        pl.when(small).then(pl.lit("⚠ small n")).otherwise(pl.lit("")).alias("Note"),
        pl.col("location").fill_null("(none)"),
        pl.col("team").fill_null("(none)"),
    ).sort(keys)


def render() -> None:
    st.title("Overview")
    url = _data.database_url()
    if (scope := scoped_interactions(url)) is None:
        return
    filters, _ = scope
    metrics = _data.metrics_settings()
    results = _data.overview_kpis(url, filters, metrics.fcr_window_days, metrics.quantile_interpolation)
    business = _data.overview_business_medians(url, filters, metrics.quantile_interpolation)
    if business is not None:
        results = {**results, **business}
    durations = (
        "response and resolution times in business hours (SLA clocks)"
        if business is not None
        else "response and resolution times in calendar time (no SLA results yet: `servicelens sla evaluate`)"
    )
    st.caption(f"{filters.describe()} · FCR repeat window {metrics.fcr_window_days} days · {durations}")
    headline_tiles(results, business is not None)

    st.subheader("Weekly volume and CSAT")
    st.plotly_chart(trend_chart(results), width="stretch")

    st.subheader("By location and team")
    st.caption(
        "Rates in % with 95% intervals (Wilson) and the n behind each. Rows are in name order; where the "
        f"intervals overlap, the difference may be chance. ⚠ marks rates on fewer than {SMALL_N} answers."
    )
    st.dataframe(
        breakdown_table(results, business is not None),
        hide_index=True,
        width="stretch",
        column_config={
            "location": "Location",
            "team": "Team",
            "CSAT %": st.column_config.NumberColumn(format="%.1f"),
            "FCR %": st.column_config.NumberColumn(format="%.1f"),
            FIRST_RESPONSE_COLUMN[business is not None]: st.column_config.NumberColumn(format="%.0f"),
        },
    )


render()
