"""Audit batches: targeted picks plus stratified random sampling, reproducible from a seed, and auditor
assignment.

Every interaction gets a sampling key in [0, 1) derived from ``blake2b(seed, interaction_id)``. Within a
stratum, interactions are taken in key order. So a batch depends only on the seed and the set of
eligible interactions, not on row order, and adding unrelated rows never reshuffles a stratum's picks.

Order of picking per stratum: each targeted rule in config order takes up to its quota among the
interactions it matches that are not yet taken; then the random quota is taken from the rest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import polars as pl

from audits import conditions
from audits.config import SamplingPlan, TargetedRule

RANDOM_REASON = "random"
STRATUM_SEPARATOR = " / "
MISSING_STRATUM = "(none)"


class SamplingError(ValueError):
    """The interactions or the plan cannot produce a batch; the message says which row or setting."""


def sampling_keys(interaction_ids: Sequence[str | None], seed: int) -> pl.Series:
    """Deterministic pseudo-random numbers in [0, 1), stable across runs, platforms and library versions."""
    keys = []
    for value in interaction_ids:
        digest = hashlib.blake2b(f"{seed}\x1f{value}".encode(), digest_size=8).digest()
        keys.append(int.from_bytes(digest, "big") / 2**64)
    return pl.Series("sample_key", keys, dtype=pl.Float64)


def rule_expr(rule: TargetedRule, schema: conditions.Schema, first_response_target_minutes: float) -> pl.Expr:
    if rule.rule == "low_csat":
        return conditions.low_csat(rule.csat_at_most)
    if rule.rule == "sla_breached":
        return conditions.sla_breached(schema, first_response_target_minutes)
    if rule.rule == "reopened":
        return conditions.reopened()
    return conditions.long_resolution(rule.resolution_hours_over)


def stratum_expr(strata: Sequence[str]) -> pl.Expr:
    return pl.concat_str(
        [pl.col(s).cast(pl.String).fill_null(MISSING_STRATUM) for s in strata], separator=STRATUM_SEPARATOR
    )


def draw_sample(
    interactions: pl.DataFrame,
    plan: SamplingPlan,
    *,
    first_response_target_minutes: float = 60.0,
    exclude: Sequence[str] = (),
) -> pl.DataFrame:
    """The sampled interactions: ``interaction_id``, the strata columns, ``stratum``, ``reason`` (a targeted
    rule or ``random``) and ``sample_key``; ``exclude`` lists ids already audited."""
    missing = [c for c in ["interaction_id", *plan.strata] if c not in interactions.columns]
    if missing:
        raise SamplingError(f"interactions lack column(s) {', '.join(missing)} needed by the sampling plan")
    duplicated = (
        interactions.filter(pl.col("interaction_id").is_duplicated())["interaction_id"].unique().sort()
    )
    if duplicated.len():
        raise SamplingError(
            f"interaction_id appears more than once: {', '.join(duplicated.head(5).to_list())}"
        )
    pool = interactions.filter(~pl.col("interaction_id").is_in(list(exclude)))
    pool = pool.with_columns(sampling_keys(pool["interaction_id"].to_list(), plan.seed))
    pool = pool.with_columns(stratum=stratum_expr(plan.strata), _taken=pl.lit(None, dtype=pl.String))

    def take(frame: pl.DataFrame, eligible: pl.Expr, quota: pl.Expr, reason: str) -> pl.DataFrame:
        candidate = eligible & pl.col("_taken").is_null()
        order = pl.when(candidate).then(pl.col("sample_key")).rank("ordinal").over("stratum")
        return frame.with_columns(
            _taken=pl.when(candidate & (order <= quota)).then(pl.lit(reason)).otherwise(pl.col("_taken"))
        )

    for rule in plan.targeted:
        eligible = rule_expr(rule, pool.schema, first_response_target_minutes)
        pool = take(pool, eligible, pl.lit(rule.quota), rule.rule)
    random_quota = pl.col("stratum").replace_strict(
        plan.quota_overrides, default=plan.per_stratum, return_dtype=pl.Int64
    )
    pool = take(pool, pl.lit(True), random_quota, RANDOM_REASON)
    return (
        pool.filter(pl.col("_taken").is_not_null())
        .select("interaction_id", *plan.strata, "stratum", pl.col("_taken").alias("reason"), "sample_key")
        .sort("stratum", "sample_key")
    )


def assign_auditors(
    sample: pl.DataFrame,
    auditors: Sequence[str],
    strategy: str = "balanced",
    *,
    current_load: Mapping[str, int] | None = None,
    agent_column: str = "agent",
) -> pl.DataFrame:
    """Add an ``auditor`` column. ``round_robin`` deals the sample out in order; ``balanced`` gives each
    interaction to the auditor with the fewest open audits (``current_load`` plus this batch). Nobody
    audits an interaction they handled as the agent."""
    if not auditors:
        raise SamplingError("no auditors to assign the batch to (sampling.auditors is empty)")
    if len(set(auditors)) != len(auditors):
        raise SamplingError("an auditor is listed twice")
    if strategy not in {"round_robin", "balanced"}:
        raise SamplingError(f"unknown assignment strategy {strategy!r}; use round_robin or balanced")
    load = {a: (current_load or {}).get(a, 0) for a in auditors}
    agents = sample[agent_column].to_list() if agent_column in sample.columns else [None] * sample.height
    chosen: list[str] = []
    turn = 0
    for interaction_id, agent in zip(sample["interaction_id"], agents, strict=True):
        allowed = [a for a in auditors if a != agent]
        if not allowed:
            raise SamplingError(
                f"interaction {interaction_id}: its agent {agent!r} is the only auditor available"
            )
        if strategy == "round_robin":
            while auditors[turn % len(auditors)] == agent:
                turn += 1
            pick = auditors[turn % len(auditors)]
            turn += 1
        else:
            pick = min(allowed, key=lambda a: load[a])  # min keeps list order on ties
        load[pick] += 1
        chosen.append(pick)
    return sample.with_columns(pl.Series("auditor", chosen, dtype=pl.String))


@dataclass(frozen=True)
class Reassignment:
    """The log entry written whenever a sampled interaction moves to another auditor."""

    interaction_id: str
    from_auditor: str
    to_auditor: str
    reason: str
    by: str
    at: datetime


@dataclass(frozen=True)
class AuditBatch:
    seed: int
    created_at: datetime
    sample: pl.DataFrame  # interaction_id, strata, stratum, reason, sample_key, auditor
    reassignments: tuple[Reassignment, ...] = ()


def create_batch(
    interactions: pl.DataFrame,
    plan: SamplingPlan,
    now: datetime,
    *,
    first_response_target_minutes: float = 60.0,
    exclude: Sequence[str] = (),
    current_load: Mapping[str, int] | None = None,
) -> AuditBatch:
    """Sample and assign in one step, as ``servicelens audit sample`` does."""
    sample = draw_sample(
        interactions, plan, first_response_target_minutes=first_response_target_minutes, exclude=exclude
    )
    if "agent" in interactions.columns and "agent" not in sample.columns:
        sample = sample.join(
            interactions.select("interaction_id", "agent"),
            on="interaction_id",
            how="left",
            maintain_order="left",
        )
    sample = assign_auditors(sample, plan.auditors, plan.assignment, current_load=current_load)
    return AuditBatch(plan.seed, now, sample)


def reassign(
    batch: AuditBatch, interaction_id: str, to_auditor: str, *, reason: str, by: str, at: datetime
) -> AuditBatch:
    """Move one interaction to another auditor; the reason is required and the move is logged."""
    if not reason.strip():
        raise SamplingError(f"interaction {interaction_id}: replacing the auditor needs a reason")
    row = batch.sample.filter(pl.col("interaction_id") == interaction_id)
    if row.is_empty():
        raise SamplingError(f"interaction {interaction_id} is not in this batch")
    current = row["auditor"][0]
    if current == to_auditor:
        raise SamplingError(f"interaction {interaction_id} is already assigned to {to_auditor}")
    if "agent" in row.columns and row["agent"][0] == to_auditor:
        raise SamplingError(f"interaction {interaction_id}: {to_auditor} handled it as the agent")
    sample = batch.sample.with_columns(
        auditor=pl.when(pl.col("interaction_id") == interaction_id)
        .then(pl.lit(to_auditor))
        .otherwise(pl.col("auditor"))
    )
    entry = Reassignment(interaction_id, current, to_auditor, reason, by, at)
    return AuditBatch(batch.seed, batch.created_at, sample, (*batch.reassignments, entry))
