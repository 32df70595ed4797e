"""Agreement between the automatic protocol checks and the auditors on the same items.

An auditor's rating becomes an outcome comparable with a check: N/A -> ``not_applicable``; a normalised
rating at or above ``pass_threshold`` (default 0.5: on a 3-point scale 2 and 3 pass) -> ``pass``; else
``fail``. Per item we report the share of identical outcomes and Cohen's kappa, which discounts the
agreement two raters would reach by chance given how often each says pass, fail or N/A::

    kappa = (p_o - p_e) / (1 - p_e),   p_e = sum over outcomes k of p_check(k) * p_auditor(k)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence

import polars as pl


def cohens_kappa(rater_a: Sequence[Hashable], rater_b: Sequence[Hashable]) -> float | None:
    """Cohen's kappa for two raters over the same units; None when undefined (no units, or both raters
    always gave the one same label, so chance agreement is 1)."""
    if len(rater_a) != len(rater_b):
        raise ValueError(f"raters judged different numbers of units: {len(rater_a)} and {len(rater_b)}")
    n = len(rater_a)
    if n == 0:
        return None
    observed = sum(a == b for a, b in zip(rater_a, rater_b, strict=True)) / n
    counts_a, counts_b = Counter(rater_a), Counter(rater_b)
    expected = sum(counts_a[label] * counts_b[label] for label in counts_a) / (n * n)
    if expected >= 1.0:
        return None
    return (observed - expected) / (1 - expected)


def auditor_outcomes(items: pl.DataFrame, pass_threshold: float = 0.5) -> pl.DataFrame:
    """``review_id, interaction_id, auditor, item_id, auditor_outcome`` from review item rows."""
    outcome = (
        pl.when(pl.col("normalised").is_null())
        .then(pl.lit("not_applicable"))
        .when(pl.col("normalised") >= pass_threshold)
        .then(pl.lit("pass"))
        .otherwise(pl.lit("fail"))
    )
    return items.select("review_id", "interaction_id", "auditor", "item_id", outcome.alias("auditor_outcome"))


def check_agreement(
    check_results: pl.DataFrame, items: pl.DataFrame, pass_threshold: float = 0.5
) -> pl.DataFrame:
    """Per check and item: n paired judgements, agreement %, Cohen's kappa and the count of each
    disagreement direction. Checks that errored and checks mapped to no item are left out."""
    automatic = check_results.filter(pl.col("item").is_not_null() & (pl.col("outcome") != "error")).select(
        "interaction_id", "check", pl.col("item").alias("item_id"), pl.col("outcome").alias("check_outcome")
    )
    pairs = automatic.join(
        auditor_outcomes(items, pass_threshold), on=["interaction_id", "item_id"], how="inner"
    )
    rows = []
    for (check, item_id), group in pairs.group_by("check", "item_id", maintain_order=True):
        auto = group["check_outcome"].to_list()
        human = group["auditor_outcome"].to_list()
        agree = sum(a == h for a, h in zip(auto, human, strict=True))
        rows.append(
            {
                "check": check,
                "item_id": item_id,
                "n": len(auto),
                "agreement": agree / len(auto),
                "kappa": cohens_kappa(auto, human),
                "check_pass_auditor_fail": sum(
                    a == "pass" and h == "fail" for a, h in zip(auto, human, strict=True)
                ),
                "check_fail_auditor_pass": sum(
                    a == "fail" and h == "pass" for a, h in zip(auto, human, strict=True)
                ),
            }
        )
    schema = {
        "check": pl.String(),
        "item_id": pl.String(),
        "n": pl.Int64(),
        "agreement": pl.Float64(),
        "kappa": pl.Float64(),
        "check_pass_auditor_fail": pl.Int64(),
        "check_fail_auditor_pass": pl.Int64(),
    }
    return pl.DataFrame(rows, schema=schema).sort("check")
