"""Policies as data: which policy an interaction falls under, its calendar, and the rules per metric."""

from __future__ import annotations

from functools import reduce
from typing import Any

import polars as pl

from servicelens.model import Priority
from sla.clock import pause_mask
from sla.config import DEFAULT_PAUSES, Metric, PolicyConditions, SlaConfig

US_PER_MINUTE = 60_000_000


def condition_expr(when: PolicyConditions) -> pl.Expr:
    """True where an interaction meets every condition of a policy (no conditions: always true)."""
    parts: list[pl.Expr] = []
    if when.priority:
        parts.append(pl.col("priority").is_in([p.value for p in when.priority]))
    for column, values in (("channel", when.channel), ("team", when.team), ("location", when.location)):
        if values:
            parts.append(pl.col(column).is_in(values))
    if when.tags_any:
        parts.append(pl.col("tags").list.eval(pl.element().is_in(when.tags_any)).list.any())
    parts.extend(pl.col("tags").list.contains(tag) for tag in when.tags_all)
    if not parts:
        return pl.lit(True)
    return reduce(lambda a, b: a & b, parts).fill_null(False)


def policy_index_expr(config: SlaConfig) -> pl.Expr:
    """Index into ``config.all_policies()`` of the first matching policy; the fallback is last."""
    fallback = len(config.policies)
    if not config.policies:
        return pl.lit(fallback, pl.Int32).alias("policy_index")
    chain: Any = pl.when(condition_expr(config.policies[0].when)).then(pl.lit(0, pl.Int32))
    for index, policy in enumerate(config.policies[1:], start=1):
        chain = chain.when(condition_expr(policy.when)).then(pl.lit(index, pl.Int32))
    return chain.otherwise(pl.lit(fallback, pl.Int32)).alias("policy_index")


def home_calendar_expr(config: SlaConfig) -> pl.Expr:
    """Calendar index from the location's calendar, else the team's, else the default calendar."""
    names = config.calendar_names()
    by_location = {k: names.index(v) for k, v in config.location_calendars.items()}
    by_team = {k: names.index(v) for k, v in config.team_calendars.items()}
    location = pl.col("location").replace_strict(by_location, default=None, return_dtype=pl.Int32)
    team = pl.col("team").replace_strict(by_team, default=None, return_dtype=pl.Int32)
    return pl.coalesce(location, team, pl.lit(names.index(config.default_calendar), pl.Int32)).alias(
        "home_calendar"
    )


PRIORITY_CODES: dict[str, int] = {p.value: index for index, p in enumerate(Priority)}
NO_PRIORITY_CODE = len(PRIORITY_CODES)  # no priority, or one the targets cannot name
RULES_PER_POLICY = NO_PRIORITY_CODE + 1


def rule_code_expr(config: SlaConfig) -> pl.Expr:
    """Row of :func:`metric_rules` that applies: policy index x priority code."""
    priority = (
        pl.col("priority")
        .cast(pl.Enum(list(PRIORITY_CODES)), strict=False)
        .to_physical()
        .cast(pl.Int32)
        .fill_null(NO_PRIORITY_CODE)
    )
    return (policy_index_expr(config) * RULES_PER_POLICY + priority).alias("rule_code")


def warning_slots(config: SlaConfig) -> int:
    counts = [len(s.warn_at) for p in config.all_policies() for s in p.metrics.values()]
    return max([1, *counts])


def metric_rules(config: SlaConfig, metric: Metric) -> pl.DataFrame:
    """How ``metric`` is measured under each rule code (policy x priority, see :func:`rule_code_expr`):
    ``defined`` (the policy lists the metric), ``policy``, ``target_minutes``, ``business_hours``,
    ``fixed_calendar`` (index; null: the interaction's own), ``pause_mask`` and ``warn_0..``."""
    names = config.calendar_names()
    slots = warning_slots(config)
    rows: list[dict[str, object]] = []
    for policy in config.all_policies():
        settings = policy.metrics.get(metric)
        for code in range(RULES_PER_POLICY):
            row: dict[str, object] = {"defined": settings is not None, "policy": policy.name}
            if settings is not None:
                fixed = settings.calendar or policy.calendar
                pauses = (
                    DEFAULT_PAUSES[metric] if settings.pause_statuses is None else settings.pause_statuses
                )
                priority = None if code == NO_PRIORITY_CODE else list(PRIORITY_CODES)[code]
                row.update(
                    target_minutes=settings.target_for(priority),
                    business_hours=settings.business_hours,
                    fixed_calendar=None if fixed is None else names.index(fixed),
                    pause_mask=pause_mask(pauses),
                )
                for slot in range(slots):
                    row[f"warn_{slot}"] = settings.warn_at[slot] if slot < len(settings.warn_at) else None
            rows.append(row)
    schema: dict[str, pl.DataType] = {
        "defined": pl.Boolean(),
        "policy": pl.String(),
        "target_minutes": pl.Float64(),
        "business_hours": pl.Boolean(),
        "fixed_calendar": pl.Int32(),
        "pause_mask": pl.Int64(),
        **{f"warn_{slot}": pl.Float64() for slot in range(slots)},
    }
    return pl.DataFrame(rows, schema=schema, orient="row")


def metrics_in_use(config: SlaConfig) -> set[Metric]:
    return {metric for policy in config.all_policies() for metric in policy.metrics}
