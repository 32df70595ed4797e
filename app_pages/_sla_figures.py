"""The SLA page's figures and tables: compliance heatmap, weekly trend, breach list, at-risk queue and the
clock timeline of one interaction. Pure functions of frames (no streamlit), so they are testable alone."""

from __future__ import annotations

from datetime import datetime

import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from servicelens.kpis import SMALL_N

SMALL_N_GREY = "#d9d9d9"
QUEUE_STATUSES = ("running", "at_risk")


def compliance_heatmap(grid: pl.DataFrame, metric: str) -> go.Figure:
    """Team x location compliance; cells on fewer than SMALL_N decided clocks are grey, n is in the hover."""
    cells = grid.filter((pl.col("metric") == metric) & (pl.col("n") > 0)).with_columns(
        pl.col("team").fill_null("(none)"), pl.col("location").fill_null("(none)")
    )
    teams = sorted(cells["team"].unique().to_list(), reverse=True)
    locations = sorted(cells["location"].unique().to_list())
    lookup = {(r["team"], r["location"]): r for r in cells.iter_rows(named=True)}
    rated: list[list[float | None]] = []
    small: list[list[float | None]] = []
    labels: list[list[str]] = []
    hover: list[list[str]] = []
    for team in teams:
        rated.append([])
        small.append([])
        labels.append([])
        hover.append([])
        for location in locations:
            row = lookup.get((team, location))
            if row is None:
                rated[-1].append(None)
                small[-1].append(None)
                labels[-1].append("")
                hover[-1].append(f"{team} · {location}<br>no decided clocks")
                continue
            share = 100 * row["compliance"]
            few = row["n"] < SMALL_N
            rated[-1].append(None if few else share)
            small[-1].append(1.0 if few else None)
            labels[-1].append(f"{share:.0f}%")
            hover[-1].append(
                f"{team} · {location}<br>compliance {share:.1f}%<br>n = {row['n']:,} "
                f"(met {row['met']:,}, breached {row['breached']:,})"
                + (f"<br>small sample (under {SMALL_N})" if few else "")
            )
    figure = go.Figure()
    figure.add_trace(
        go.Heatmap(
            z=small,
            x=locations,
            y=teams,
            colorscale=[[0, SMALL_N_GREY], [1, SMALL_N_GREY]],
            showscale=False,
            hoverinfo="skip",
            name=f"n < {SMALL_N}",
        )
    )
    figure.add_trace(
        go.Heatmap(
            z=rated,
            x=locations,
            y=teams,
            zmin=50,
            zmax=100,
            colorscale="RdYlGn",
            colorbar={"title": "% met"},
            text=labels,
            texttemplate="%{text}",
            hovertext=hover,
            hoverinfo="text",
            name="compliance",
        )
    )
    figure.update_layout(height=max(320, 28 * len(teams) + 120), margin={"l": 10, "r": 10, "t": 10, "b": 10})
    return figure


def weekly_trend(weekly: pl.DataFrame, metric: str) -> go.Figure:
    frame = weekly.filter(pl.col("metric") == metric).sort("week")
    decided = frame.filter(pl.col("n") > 0)
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    figure.add_trace(
        go.Bar(
            x=frame["week"].to_list(),
            y=frame["n"].to_list(),
            name="Decided clocks (n)",
            marker_color="#c9d6e8",
        ),
        secondary_y=False,
    )
    figure.add_trace(
        go.Scatter(
            x=decided["week"].to_list(),
            y=[100 * v for v in decided["compliance"].to_list()],
            customdata=decided.select("n", "breached").rows(),
            hovertemplate="week of %{x|%Y-%m-%d}<br>%{y:.1f}% met<br>n = %{customdata[0]} "
            "(breached %{customdata[1]})<extra></extra>",
            mode="lines+markers",
            marker={
                "symbol": ["circle-open" if n < SMALL_N else "circle" for n in decided["n"].to_list()],
                "size": 9,
            },
            name=f"% met (hollow = n < {SMALL_N})",
            line={"color": "#1f4e8c"},
        ),
        secondary_y=True,
    )
    figure.update_yaxes(title_text="Decided clocks", secondary_y=False)
    figure.update_yaxes(title_text="% met", range=[0, 100], secondary_y=True)
    figure.update_layout(
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        legend={"orientation": "h", "y": 1.12},
        xaxis_title="Week starting (Monday, local time of each clock's calendar)",
    )
    return figure


def breach_list(results: pl.DataFrame, people: pl.DataFrame, metric: str) -> pl.DataFrame:
    """Breached clocks of the metric, latest first, with who handled them and by how much they ran over."""
    return (
        results.filter((pl.col("metric") == metric) & (pl.col("status") == "breached"))
        .join(
            people.select("interaction_id", "location", "team", "agent", "priority", "channel"),
            on="interaction_id",
        )
        .with_columns((pl.col("elapsed_minutes") - pl.col("target_minutes")).alias("over_minutes"))
        .sort("due_at", "interaction_id", descending=[True, False], nulls_last=True)
        .select(
            "interaction_id",
            "cycle",
            "location",
            "team",
            "agent",
            "priority",
            "channel",
            "policy",
            "target_minutes",
            "elapsed_minutes",
            "over_minutes",
            "due_at",
            "completed_at",
        )
    )


def at_risk_queue(results: pl.DataFrame, people: pl.DataFrame, now: datetime) -> pl.DataFrame:
    """Running clocks of open interactions, the one closest to its due time first."""
    return (
        results.filter(
            pl.col("status").is_in(QUEUE_STATUSES)
            & pl.col("completed_at").is_null()
            & pl.col("due_at").is_not_null()
        )
        .join(people.select("interaction_id", "location", "team", "agent", "priority"), on="interaction_id")
        .with_columns(
            ((pl.col("due_at") - pl.lit(now)).dt.total_seconds() / 60).alias("minutes_to_breach"),
        )
        .sort("due_at", "interaction_id", "metric")
        .select(
            "interaction_id",
            "metric",
            "cycle",
            "status",
            "minutes_to_breach",
            "due_at",
            "target_minutes",
            "elapsed_minutes",
            "location",
            "team",
            "agent",
            "priority",
        )
    )


def timeline_figure(stretches: pl.DataFrame, interaction_id: str) -> go.Figure:
    """One bar per stretch of each clock (counting or paused), and a marker where each clock was due."""
    frame = stretches.with_columns(
        pl.concat_str([pl.col("metric"), pl.lit(" #"), pl.col("cycle").cast(pl.String)]).alias("clock")
    )
    figure = go.Figure()
    colours = {"counting": "#1f4e8c", "paused": "#bfbfbf"}
    for state, colour in colours.items():
        part = frame.filter(pl.col("state") == state)
        if part.is_empty():
            continue
        durations = [(b - a).total_seconds() * 1000 for a, b in zip(part["from"], part["to"], strict=True)]
        figure.add_trace(
            go.Bar(
                base=part["from"].to_list(),
                x=durations,
                y=part["clock"].to_list(),
                orientation="h",
                name=state,
                marker_color=colour,
                customdata=part.select("interaction_status", "business_minutes").rows(),
                hovertemplate="%{base|%Y-%m-%d %H:%M} UTC, %{customdata[0]}<br>"
                "%{customdata[1]:.1f} business min<extra>" + state + "</extra>",
            )
        )
    due = frame.group_by("clock").agg(pl.col("due_at").first(), pl.col("clock_status").first())
    due = due.filter(pl.col("due_at").is_not_null())
    if due.height:
        figure.add_trace(
            go.Scatter(
                x=due["due_at"].to_list(),
                y=due["clock"].to_list(),
                mode="markers",
                marker={"symbol": "line-ns-open", "size": 18, "color": "#c0392b", "line": {"width": 3}},
                name="due",
                customdata=due["clock_status"].to_list(),
                hovertemplate="due %{x|%Y-%m-%d %H:%M} UTC<br>%{customdata}<extra></extra>",
            )
        )
    figure.update_layout(
        barmode="overlay",
        title=f"Clocks of {interaction_id}",
        xaxis={"type": "date", "title": "UTC"},
        yaxis={"autorange": "reversed"},
        height=120 + 40 * max(1, frame["clock"].n_unique()),
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
    )
    return figure
