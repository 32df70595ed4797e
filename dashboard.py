"""servicelens dashboard: the router. Run with ``streamlit run dashboard.py``.

It only declares the pages, draws the shared sidebar (filters and data freshness) and runs the chosen page.
To add a page, add one ``st.Page`` line to its section in ``PAGES``.
"""

import streamlit as st

from app_pages._filters import render_sidebar

st.set_page_config(page_title="servicelens", page_icon=":material/insights:", layout="wide")

PAGES = {
    "Service quality": [
        st.Page("app_pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
        st.Page("app_pages/sla.py", title="SLAs", icon=":material/timer:"),
        st.Page("app_pages/data_health.py", title="Data health", icon=":material/monitor_heart:"),
    ],
    "QA audits": [
        st.Page("app_pages/audit_queue.py", title="Audit queue", icon=":material/fact_check:"),
        st.Page("app_pages/audit_results.py", title="Audit results", icon=":material/leaderboard:"),
        st.Page("app_pages/calibration.py", title="Calibration", icon=":material/balance:"),
    ],
}

page = st.navigation(PAGES)
render_sidebar()
page.run()
