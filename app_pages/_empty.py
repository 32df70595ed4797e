"""What a page says when there is nothing to show, always with the way to get something."""

from __future__ import annotations

import polars as pl
import streamlit as st

from app_pages import _data
from app_pages._filters import Filters, current_filters

NO_DATA_MESSAGE = (
    "**No interactions in the database yet.** To get some:\n\n"
    "- try the product with a generated demo organisation: `servicelens demo`\n"
    "- or load your own helpdesk export: `servicelens ingest PATH`\n\n"
    "Then reload this page."
)


def show_no_data() -> None:
    """The database holds no interactions at all."""
    st.info(NO_DATA_MESSAGE, icon=":material/database:")


def show_nothing_matches(filters: Filters) -> None:
    """There is data, but none in the chosen view."""
    st.info(
        f"**No interactions match these filters** ({filters.describe()}). "
        "Widen the period or clear a location, team, channel or priority in the sidebar.",
        icon=":material/filter_alt_off:",
    )


def scoped_interactions(url: str) -> tuple[Filters, pl.DataFrame] | None:
    """The sidebar's filters and the interactions they select, or None after saying why there are none."""
    if _data.interactions(url).is_empty():
        show_no_data()
        return None
    filters = current_filters()
    if filters is None:
        return None
    scoped = _data.filtered_interactions(url, filters)
    if scoped.is_empty():
        show_nothing_matches(filters)
        return None
    return filters, scoped
