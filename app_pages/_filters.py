"""Sidebar filters shared by every page, mirrored in the URL so a view can be shared as a link.

URL parameters: ``from`` and ``to`` (ISO dates, inclusive, UTC days), and ``location``, ``team``, ``channel``,
``priority`` (repeatable). The router calls :func:`render_sidebar` on every run; pages read the result with
:func:`current_filters`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import polars as pl
import streamlit as st

from app_pages import _data, _format

DEFAULT_PERIOD_DAYS = 84  # twelve full weeks
FILTERS_STATE_KEY = "servicelens_filters"
PERIOD_KEY = "filter_period"
# URL parameter -> interaction column, in sidebar order.
CHOICE_PARAMS: dict[str, str] = {
    "location": "location",
    "team": "team",
    "channel": "channel",
    "priority": "priority",
}


@dataclass(frozen=True)
class Filters:
    """One view of the data: created in [start, end] (UTC days) and in the chosen values (empty = all)."""

    start: date
    end: date
    locations: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    priorities: tuple[str, ...] = ()

    def chosen(self) -> dict[str, tuple[str, ...]]:
        return {
            "location": self.locations,
            "team": self.teams,
            "channel": self.channels,
            "priority": self.priorities,
        }

    def expr(self) -> pl.Expr:
        begin = datetime.combine(self.start, time(0), tzinfo=UTC)
        stop = datetime.combine(self.end + timedelta(days=1), time(0), tzinfo=UTC)
        condition = (pl.col("created_at") >= begin) & (pl.col("created_at") < stop)
        for column, values in self.chosen().items():
            if values:
                condition &= pl.col(column).is_in(list(values))
        return condition

    def describe(self) -> str:
        parts = [f"created {self.start.isoformat()} to {self.end.isoformat()} (UTC)"]
        parts += [f"{column}: {', '.join(values)}" for column, values in self.chosen().items() if values]
        return " · ".join(parts)


def current_filters() -> Filters | None:
    """The filters chosen in the sidebar on this run; None when there is no data to filter."""
    value = st.session_state.get(FILTERS_STATE_KEY)
    return value if isinstance(value, Filters) else None


def _options(frame: pl.DataFrame, column: str) -> list[str]:
    return frame.get_column(column).drop_nulls().unique().sort().to_list()


def _default_period(frame: pl.DataFrame) -> tuple[date, date]:
    latest = frame.select(pl.col("created_at").max()).item()
    end = latest.date() if latest is not None else datetime.now(UTC).date()
    return end - timedelta(days=DEFAULT_PERIOD_DAYS - 1), end


def _period_from_url(default: tuple[date, date], problems: list[str]) -> tuple[date, date]:
    bounds = []
    for param, fallback in (("from", default[0]), ("to", default[1])):
        raw = st.query_params.get(param)
        if not raw:
            bounds.append(fallback)
            continue
        try:
            bounds.append(date.fromisoformat(raw))
        except ValueError:
            problems.append(f"`{param}={raw}` is not a date like 2026-03-31; using {fallback.isoformat()}")
            bounds.append(fallback)
    if bounds[0] > bounds[1]:
        problems.append("`from` is after `to`; using the default period")
        return default
    return bounds[0], bounds[1]


def _choices_from_url(param: str, options: list[str], problems: list[str]) -> list[str]:
    wanted = st.query_params.get_all(param)
    unknown = [v for v in wanted if v not in options]
    if unknown:
        problems.append(f"`{param}` has no data for {', '.join(unknown)}; ignored")
    return [v for v in wanted if v in options]


def _seed_from_url(frame: pl.DataFrame, options: dict[str, list[str]]) -> list[str]:
    """Put the URL's filters into the widgets' state, once per browser session."""
    problems: list[str] = []
    st.session_state[PERIOD_KEY] = _period_from_url(_default_period(frame), problems)
    for param in CHOICE_PARAMS:
        st.session_state[f"filter_{param}"] = _choices_from_url(param, options[param], problems)
    return problems


def _mirror_to_url(filters: Filters) -> None:
    wanted: dict[str, list[str]] = {"from": [filters.start.isoformat()], "to": [filters.end.isoformat()]}
    wanted.update({param: list(values) for param, values in filters.chosen().items()})
    for param, values in wanted.items():
        if st.query_params.get_all(param) == values:
            continue
        if values:
            st.query_params[param] = values
        elif param in st.query_params:
            del st.query_params[param]


def _render_freshness(url: str) -> None:
    latest_update, last_ingest = _data.freshness(url)
    st.sidebar.caption(
        f"Data as of {_format.timestamp(latest_update)} (latest change)  \n"
        f"Last ingest: {_format.timestamp(last_ingest)}"
    )


def _as_range(picked: object, fallback: tuple[date, date]) -> tuple[date, date]:
    """The picked (start, end); the range picker gives one date while the second is being chosen."""
    if isinstance(picked, tuple) and len(picked) == 2:
        return picked[0], picked[1]
    if isinstance(picked, tuple) and len(picked) == 1:
        return picked[0], picked[0]
    return fallback


def render_sidebar() -> None:
    """Draw the filters and data freshness; store the chosen :class:`Filters` for the page."""
    url = _data.database_url()
    frame = _data.interactions(url)
    st.session_state[FILTERS_STATE_KEY] = None
    if frame.is_empty():
        _render_freshness(url)
        return
    options = {param: _options(frame, column) for param, column in CHOICE_PARAMS.items()}
    if PERIOD_KEY not in st.session_state:
        for problem in _seed_from_url(frame, options):
            st.sidebar.warning(f"Link filter ignored: {problem}")
    with st.sidebar:
        st.header("Filters")
        period = st.date_input("Period (created, UTC)", key=PERIOD_KEY, format="YYYY-MM-DD")
        chosen = {
            param: tuple(
                st.multiselect(param.capitalize(), options[param], key=f"filter_{param}", placeholder="All")
            )
            for param in CHOICE_PARAMS
        }
    start, end = _as_range(period, _default_period(frame))
    filters = Filters(
        start=start,
        end=end,
        locations=chosen["location"],
        teams=chosen["team"],
        channels=chosen["channel"],
        priorities=chosen["priority"],
    )
    st.session_state[FILTERS_STATE_KEY] = filters
    _mirror_to_url(filters)
    _render_freshness(url)
