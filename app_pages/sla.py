"""SLAs: where targets are met, which clocks breached and why, what is about to breach, what a change would do."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import plotly.graph_objects as go
import polars as pl
import streamlit as st
from pydantic import ValidationError

from app_pages import _data, _format
from app_pages._empty import scoped_interactions
from app_pages._filters import Filters
from app_pages._sla_figures import (
    at_risk_queue,
    breach_list,
    compliance_heatmap,
    timeline_figure,
    weekly_trend,
)
from servicelens.kpis import SMALL_N
from sla.compliance import compliance
from sla.config import SlaConfig, Weekday
from storage.sla_repo import config_fingerprint

NO_RESULTS_MESSAGE = (
    "**No SLA results yet.** Evaluate every interaction against the `sla:` policies with "
    "`servicelens sla evaluate`, then reload this page."
)
METRIC_LABELS = {
    "first_response": "First response",
    "next_response": "Next response",
    "periodic_update": "Periodic update",
    "resolution": "Resolution",
    "requester_wait": "Requester wait",
    "agent_work": "Agent work",
}
BREACH_LIST_LIMIT = 500
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")


def changed_config(
    base: SlaConfig,
    policy: str,
    metric: str,
    priority: str,
    target: float,
    calendar: str | None,
    hours: str | None,
) -> SlaConfig:
    """``base`` with one target and (optionally) one calendar's Monday-Friday hours replaced."""
    data: dict[str, Any] = base.model_dump(mode="json")
    policies = [*data["policies"], data["fallback"]]
    chosen = next(p for p in policies if p["name"] == policy)
    chosen["metrics"][metric]["targets"][priority] = target
    if calendar is not None and hours is not None:
        intervals = [part.strip() for part in hours.split(",") if part.strip()]
        cal = data["calendars"][calendar]
        cal["always_open"] = False
        cal["hours"] = {**cal["hours"], **{day: intervals for day in WEEKDAYS}}
    return SlaConfig.model_validate(data)


def _what_if(url: str, filters: Filters, sla: SlaConfig, metric: str, now: datetime) -> None:
    st.subheader("What if")
    st.caption(
        "Change one target or a calendar's weekday hours: the filtered interactions are evaluated again "
        "in memory, as of the last evaluation. Nothing is stored; the config file stays as it is."
    )
    policies = {p.name: p for p in sla.all_policies()}
    left, middle, right = st.columns(3)
    with left:
        policy_name = st.selectbox("Policy", list(policies), key="sla_whatif_policy")
        policy = policies[policy_name]
        metrics = [m.value for m in policy.metrics]
        if not metrics:
            st.info(f"Policy {policy_name} measures no metric.")
            return
        what_metric = st.selectbox(
            "Metric",
            metrics,
            index=metrics.index(metric) if metric in metrics else 0,
            key="sla_whatif_metric",
            format_func=lambda m: METRIC_LABELS.get(m, m),
        )
    targets = next(t for m, t in policy.metrics.items() if m.value == what_metric)
    keys = list(targets.targets) or ["default"]
    with middle:
        priority = st.selectbox("Priority", keys, key="sla_whatif_priority")
        current = targets.targets.get(priority, 60.0)
        target = st.number_input(
            "Target (minutes)", min_value=1.0, value=float(current), step=15.0, key="sla_whatif_target"
        )
    with right:
        names = sla.calendar_names()
        calendar = st.selectbox(
            "Calendar", names, index=names.index(sla.default_calendar), key="sla_whatif_calendar"
        )
        cal = sla.calendars[calendar]
        now_hours = "00:00-24:00" if cal.always_open else ", ".join(cal.hours.get(Weekday.MON, []))
        hours = st.text_input("Mon-Fri opening hours", value=now_hours, key="sla_whatif_hours")
    try:
        scenario = changed_config(
            sla, policy_name, what_metric, priority, target, calendar, hours if hours != now_hours else None
        )
    except ValidationError as exc:
        st.error(
            "The change is not a valid configuration:\n\n" + "\n".join(f"- {e['msg']}" for e in exc.errors())
        )
        return
    base_json, scenario_json = sla.model_dump_json(), scenario.model_dump_json()
    if scenario_json == base_json:
        st.caption("Change a value above to see its effect.")
        return
    people = _data.filtered_interactions(url, filters).lazy()
    by_location = []
    for label, config_json, config in (("current", base_json, sla), ("what if", scenario_json, scenario)):
        results = _data.sla_what_if(url, filters, config_json, now)
        table = compliance(results.lazy(), people, by=["location"], config=config).collect()
        by_location.append(
            table.filter(pl.col("metric") == what_metric).with_columns(pl.lit(label).alias("scenario"))
        )
    both = pl.concat(by_location)
    totals = both.group_by("scenario").agg(pl.col("met").sum(), pl.col("n").sum())
    share = {r["scenario"]: (r["met"] / r["n"] if r["n"] else None) for r in totals.iter_rows(named=True)}
    before, after = share.get("current"), share.get("what if")
    delta = None if before is None or after is None else f"{100 * (after - before):+.1f} points"
    st.metric(
        f"{METRIC_LABELS.get(what_metric, what_metric)} compliance with the change",
        _format.percent(after),
        delta=delta,
        help=f"Currently {_format.percent(before)}",
    )
    figure = go.Figure()
    for label, colour in (("current", "#c9d6e8"), ("what if", "#1f4e8c")):
        part = both.filter(pl.col("scenario") == label).sort("location")
        figure.add_trace(
            go.Bar(
                x=part["location"].fill_null("(none)").to_list(),
                y=[None if v is None else 100 * v for v in part["compliance"].to_list()],
                customdata=part["n"].to_list(),
                hovertemplate="%{x}: %{y:.1f}% met, n = %{customdata}<extra>" + label + "</extra>",
                name=label,
                marker_color=colour,
            )
        )
    figure.update_layout(
        barmode="group",
        yaxis={"title": "% met", "range": [0, 100]},
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
    )
    st.plotly_chart(figure, width="stretch", key="sla_whatif_chart")


def render() -> None:
    st.title("SLAs")
    url = _data.database_url()
    if (scope := scoped_interactions(url)) is None:
        return
    filters, people = scope
    info = _data.sla_evaluation_info(url)
    if info.rows == 0 or info.last_evaluated_at is None:
        st.info(NO_RESULTS_MESSAGE, icon=":material/timer:")
        return
    sla = _data.config().sla
    if info.fingerprints != (config_fingerprint(sla),):
        st.warning(
            "The stored results were evaluated under a different `sla:` configuration than the current "
            "one. Run `servicelens sla evaluate` to bring them up to date."
        )
    view = _data.sla_view(url, filters, sla.model_dump_json())
    results = view["results"]
    metrics = [m for m in METRIC_LABELS if m in set(results["metric"].unique().to_list())]
    if not metrics:
        st.info("No SLA clocks for the interactions in this view.")
        return
    metric = st.radio(
        "Metric", metrics, horizontal=True, key="sla_metric", format_func=lambda m: METRIC_LABELS[m]
    )
    st.caption(
        f"{filters.describe()} · evaluated {_format.timestamp(info.last_evaluated_at)} · "
        f"n = decided clocks (met + breached); cells and weeks under {SMALL_N} are grey or hollow"
    )

    st.subheader("Compliance by team and location")
    st.plotly_chart(compliance_heatmap(view["grid"], metric), width="stretch", key="sla_heatmap")

    st.subheader("Weekly compliance")
    st.plotly_chart(weekly_trend(view["weekly"], metric), width="stretch", key="sla_trend")

    st.subheader("Breaches")
    breaches = breach_list(results, people, metric)
    st.caption(f"{breaches.height:,} breached {METRIC_LABELS[metric].lower()} clock(s), latest due first")
    st.dataframe(breaches.head(BREACH_LIST_LIMIT), hide_index=True, width="stretch", key="sla_breaches")
    picked = st.selectbox(
        "Show the clocks of a breached interaction",
        breaches["interaction_id"].unique(maintain_order=True).head(BREACH_LIST_LIMIT).to_list(),
        index=None,
        placeholder="Choose an interaction",
        key="sla_breach_pick",
    )
    if picked is not None:
        stretches = _data.sla_timeline(url, picked, sla.model_dump_json(), info.last_evaluated_at)
        st.plotly_chart(timeline_figure(stretches, picked), width="stretch", key="sla_timeline")
        st.dataframe(stretches, hide_index=True, width="stretch", key="sla_timeline_table")

    st.subheader("At risk")
    queue = at_risk_queue(results, people, datetime.now(UTC))
    st.caption(
        f"{queue.height:,} running clock(s) of open interactions, the closest to breach first; minutes to "
        f"breach count from now, statuses are as of the last evaluation"
    )
    st.dataframe(queue, hide_index=True, width="stretch", key="sla_queue")

    _what_if(url, filters, sla, metric, info.last_evaluated_at)


render()
