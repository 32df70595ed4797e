"""Audit results: review scores by place, team, agent and item with n and Wilson intervals, the reviews
behind each figure, automatic check pass rates, and how far the checks agree with the auditors."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from app_pages import _data, _format
from app_pages._empty import scoped_interactions
from audits.agreement import check_agreement
from audits.results import item_results, review_frames, score_trend, scores_by
from servicelens.commands.audit import pass_rates

UNITS = {"location": "Location", "team": "Team", "agent": "Agent"}


def _interval(low: str, high: str) -> pl.Expr:
    as_percent = [(pl.col(c) * 100).round(0).cast(pl.Int64).cast(pl.String) for c in (low, high)]
    return pl.concat_str(as_percent, separator="–")


def _percent(column: str) -> pl.Expr:
    return (pl.col(column) * 100).round(1)


def score_table(scores: pl.DataFrame, scoped: pl.DataFrame, by: str, pass_mark: float) -> pl.DataFrame:
    table = scores_by(scores, scoped, [by], pass_mark=pass_mark)
    return table.select(
        pl.col(by).fill_null("(none)"),
        "n",
        _percent("mean_score").alias("mean score %"),
        _interval("score_low", "score_high").alias("score 95% CI"),
        _percent("pass_rate").alias("pass rate %"),
        _interval("pass_low", "pass_high").alias("pass 95% CI"),
        pl.col("critical_failures").alias("critical failures"),
        "review_ids",
    )


def reviews_behind(review_ids: list[str], scores: pl.DataFrame, scoped: pl.DataFrame) -> pl.DataFrame:
    return (
        scores.filter(pl.col("review_id").is_in(review_ids))
        .join(scoped.select("interaction_id", "location", "team", "agent", "created_at"), on="interaction_id")
        .select(
            "review_id",
            "interaction_id",
            "auditor",
            _percent("score").alias("score %"),
            "critical_failed",
            "revision",
            "accepted_disputes",
            "location",
            "team",
            "agent",
            "created_at",
        )
        .sort("score %", nulls_last=True)
    )


def trend_figure(trend: pl.DataFrame) -> go.Figure:
    figure = go.Figure(
        go.Scatter(
            x=trend["period"].to_list(),
            y=[100 * v for v in trend["mean_score"].to_list()],
            error_y={
                "type": "data",
                "symmetric": False,
                "array": [
                    100 * (h - v) for h, v in zip(trend["score_high"], trend["mean_score"], strict=True)
                ],
                "arrayminus": [
                    100 * (v - lo) for lo, v in zip(trend["score_low"], trend["mean_score"], strict=True)
                ],
            },
            customdata=trend["n"].to_list(),
            hovertemplate="week of %{x|%Y-%m-%d}<br>mean score %{y:.1f}%<br>n = %{customdata} reviews<extra></extra>",
            mode="lines+markers",
            name="mean score (95% CI)",
        )
    )
    figure.update_layout(
        yaxis={"title": "Mean review score %", "range": [0, 100]},
        xaxis_title="Week of the interaction (UTC)",
        margin={"l": 10, "r": 10, "t": 20, "b": 10},
    )
    return figure


def check_table(results: pl.DataFrame, scoped: pl.DataFrame, check: str, by: str) -> pl.DataFrame:
    """One check's pass rate per unit, lowest first, flagging units whose whole interval lies below the
    overall rate (a difference chance alone hardly explains)."""
    chosen = results.filter(pl.col("check") == check)
    judged = chosen.filter(pl.col("outcome").is_in(["pass", "fail"]))
    overall = (judged["outcome"] == "pass").mean() if judged.height else None
    rates = pass_rates(chosen, scoped, by).filter(pl.col("applicable") > 0)
    below = pl.col("pass_high") < (overall if overall is not None else 0.0)
    return rates.select(
        pl.col(by).fill_null("(none)"),
        pl.col("applicable").alias("n"),
        _percent("pass_rate").alias("pass rate %"),
        _interval("pass_low", "pass_high").alias("95% CI"),
        pl.when(below).then(pl.lit("⚠ below the overall rate")).otherwise(pl.lit("")).alias("note"),
        pl.col("pass_low"),
        pl.col("pass_high"),
    ).sort("pass rate %", by)


def check_figure(table: pl.DataFrame, by: str) -> go.Figure:
    rate = table["pass rate %"].to_list()
    figure = go.Figure(
        go.Bar(
            y=table[by].to_list(),
            x=rate,
            orientation="h",
            error_x={
                "type": "data",
                "symmetric": False,
                "array": [100 * h - r for h, r in zip(table["pass_high"], rate, strict=True)],
                "arrayminus": [r - 100 * lo for lo, r in zip(table["pass_low"], rate, strict=True)],
            },
            customdata=table["n"].to_list(),
            hovertemplate="%{y}<br>pass rate %{x:.1f}%<br>n = %{customdata}<extra></extra>",
            marker_color=["#c0392b" if note else "#1f4e8c" for note in table["note"].to_list()],
        )
    )
    figure.update_layout(
        xaxis={"title": "Pass rate % (95% CI)", "range": [0, 100]},
        yaxis={"autorange": "reversed"},
        height=max(260, 26 * table.height),
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
    )
    return figure


def review_section(scores: pl.DataFrame, items: pl.DataFrame, scoped: pl.DataFrame, pass_mark: float) -> None:
    st.header("Review scores")
    if scores.is_empty():
        st.info("No reviews in this view yet: auditors score interactions on the Audit queue page.")
        return
    by = st.radio("Group by", list(UNITS), format_func=UNITS.get, horizontal=True, key="results_by")
    table = score_table(scores, scoped, by, pass_mark)
    st.caption(
        f"{_format.sample_note(scores.height, 'reviews')} · pass = score ≥ {pass_mark:.0%} · 95% Wilson intervals. "
        "Where intervals overlap, the difference may be chance."
    )
    st.dataframe(table.drop("review_ids"), hide_index=True, width="stretch")
    units = table[by].to_list()
    unit = st.selectbox(
        f"Reviews behind one {by}", units, index=None, key="results_drill", placeholder="choose"
    )
    if unit is not None:
        ids = table.filter(pl.col(by) == unit)["review_ids"][0].to_list()
        st.dataframe(reviews_behind(ids, scores, scoped), hide_index=True, width="stretch")

    st.subheader("Weekly trend")
    trend = score_trend(scores, scoped)
    st.plotly_chart(trend_figure(trend), width="stretch")

    st.subheader("Weakest items")
    weakest = item_results(items).filter(pl.col("n") > 0)
    st.dataframe(
        weakest.select(
            "category",
            "item_id",
            "n",
            pl.col("not_applicable").alias("N/A"),
            _percent("mean").alias("mean rating %"),
            _interval("mean_low", "mean_high").alias("95% CI"),
        ),
        hide_index=True,
        width="stretch",
    )
    item = st.selectbox(
        "Reviews behind one item", weakest["item_id"].to_list(), index=None, key="results_item"
    )
    if item is not None:
        ids = weakest.filter(pl.col("item_id") == item)["review_ids"][0].to_list()
        st.dataframe(reviews_behind(ids, scores, scoped), hide_index=True, width="stretch")


def checks_section(results: pl.DataFrame, items: pl.DataFrame, scoped: pl.DataFrame) -> None:
    st.header("Automatic protocol checks")
    if results.is_empty():
        st.info(
            "No check results in this view. Run the checks on every transcript: `servicelens audit checks`."
        )
        return
    checks = results["check"].unique().sort().to_list()
    check = st.selectbox(
        "Check", checks, index=checks.index("greeting") if "greeting" in checks else 0, key="results_check"
    )
    by = st.radio("By", ["team", "location"], horizontal=True, key="results_check_by")
    table = check_table(results, scoped, check, by)
    target = results.filter(pl.col("check") == check)["target"][0]
    st.caption(f"Pass means: {target}. n = interactions the check applies to. Lowest first.")
    st.dataframe(table.drop("pass_low", "pass_high"), hide_index=True, width="stretch")
    st.plotly_chart(check_figure(table, by), width="stretch")

    st.subheader("Checks versus auditors")
    agreement = check_agreement(results, items)
    if agreement.is_empty():
        st.info("No reviewed interaction has a check result yet, so there is nothing to compare.")
        return
    st.caption(
        "Per item: how often the automatic check and the auditor reach the same outcome, and Cohen's kappa "
        "(agreement beyond chance; 1 = perfect, 0 = chance)."
    )
    st.dataframe(
        agreement.select(
            "check",
            "item_id",
            "n",
            _percent("agreement").alias("agreement %"),
            pl.col("kappa").round(3),
            pl.col("check_pass_auditor_fail").alias("check pass, auditor fail"),
            pl.col("check_fail_auditor_pass").alias("check fail, auditor pass"),
        ),
        hide_index=True,
        width="stretch",
    )


def render() -> None:
    st.title("Audit results")
    url = _data.database_url()
    if (scope := scoped_interactions(url)) is None:
        return
    filters, scoped = scope
    config = _data.config()
    st.caption(filters.describe())
    reviews, disputes = _data.audit_reviews(url)
    frames = review_frames(reviews, config.audits.scorecard, disputes)
    in_view = scoped.select("interaction_id")
    scores = frames.scores.join(in_view, on="interaction_id", how="semi")
    items = frames.items.join(in_view, on="interaction_id", how="semi")
    review_section(scores, items, scoped, config.audits.pass_mark)
    results = _data.check_results(url).join(in_view, on="interaction_id", how="semi")
    checks_section(results, items, scoped)


render()
