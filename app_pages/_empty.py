"""What a page says when there is nothing to show, always with the way to get something."""

from __future__ import annotations

import streamlit as st

from app_pages._filters import Filters

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
