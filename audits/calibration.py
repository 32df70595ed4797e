"""Calibration: several auditors blind-score the same interactions; how far do they agree?

* Krippendorff's alpha per item (``krippendorff`` package): nominal for binary items, ordinal for n-point
  items, over the normalised ratings; N/A counts as a missing value.
* Overall alpha over every (interaction, item) unit, interval metric on the 0..1 normalised ratings, so
  items on different scales can be pooled.
* Each auditor's deviation from the consensus (the median of all auditors' normalised ratings on a unit
  rated by at least two): signed mean (positive = more lenient), mean absolute deviation, and the share
  of units where the auditor matches the consensus exactly.
* Items with alpha below the threshold (0.667 by default, Krippendorff's lowest acceptable level for
  tentative conclusions) are flagged; so are items whose alpha cannot be computed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import krippendorff
import numpy as np
import polars as pl

from audits.config import Scale, Scorecard

ALPHA_THRESHOLD = 0.667
Level = Literal["nominal", "ordinal", "interval", "ratio"]


@dataclass(frozen=True)
class CalibrationReport:
    items: pl.DataFrame  # item_id, level, units, raters, alpha, flagged, note
    overall_alpha: float | None
    overall_note: str
    auditors: pl.DataFrame  # auditor, units, mean_deviation, mean_abs_deviation, exact_match


def _alpha(frame: pl.DataFrame, unit: list[str], level: Level) -> tuple[float | None, str]:
    """Alpha for a long frame of (auditor, unit..., normalised); None plus the reason when undefined."""
    rated = frame.filter(pl.col("normalised").is_not_null())
    matrix = rated.pivot(on=unit, index="auditor", values="normalised", aggregate_function="first")
    values = matrix.drop("auditor").to_numpy().astype(float)
    pairable = int((np.sum(~np.isnan(values), axis=0) >= 2).sum()) if values.size else 0
    if pairable == 0:
        return None, "no unit was rated by two or more auditors"
    if np.unique(values[~np.isnan(values)]).size < 2:
        return None, "every rating was the same value, so alpha is undefined"
    return float(krippendorff.alpha(reliability_data=values, level_of_measurement=level)), ""


def calibrate(
    items: pl.DataFrame, scorecard: Scorecard, threshold: float = ALPHA_THRESHOLD
) -> CalibrationReport:
    """``items`` has ``interaction_id, auditor, item_id, normalised`` (null = N/A), one row per auditor,
    interaction and item, e.g. ``review_frames(...).items`` of the session's reviews."""
    repeated = items.filter(pl.struct("interaction_id", "auditor", "item_id").is_duplicated())
    if repeated.height:
        first = repeated.row(0, named=True)
        raise ValueError(
            f"auditor {first['auditor']} rated item {first['item_id']} of {first['interaction_id']} more than once; "
            "pass only the latest revision of each review"
        )
    item_rows = []
    for item in scorecard.items:
        level: Level = "nominal" if item.scale is Scale.BINARY else "ordinal"
        frame = items.filter(pl.col("item_id") == item.id)
        alpha, note = _alpha(frame, ["interaction_id"], level) if frame.height else (None, "not rated")
        item_rows.append(
            {
                "item_id": item.id,
                "level": level,
                "units": frame["interaction_id"].n_unique(),
                "raters": frame["auditor"].n_unique(),
                "alpha": alpha,
                "flagged": alpha is None or alpha < threshold,
                "note": note or ("below threshold" if alpha is not None and alpha < threshold else ""),
            }
        )
    overall, overall_note = (
        _alpha(items, ["interaction_id", "item_id"], "interval") if items.height else (None, "no ratings")
    )
    return CalibrationReport(
        pl.DataFrame(
            item_rows,
            schema={
                "item_id": pl.String(),
                "level": pl.String(),
                "units": pl.Int64(),
                "raters": pl.Int64(),
                "alpha": pl.Float64(),
                "flagged": pl.Boolean(),
                "note": pl.String(),
            },
        ),
        overall,
        overall_note,
        auditor_deviation(items),
    )


def auditor_deviation(items: pl.DataFrame) -> pl.DataFrame:
    """Each auditor against the median of all auditors on units rated by two or more of them."""
    unit = ["interaction_id", "item_id"]
    rated = (
        items.filter(pl.col("normalised").is_not_null())
        .with_columns(
            consensus=pl.col("normalised").median().over(unit),
            raters=pl.len().over(unit),
        )
        .filter(pl.col("raters") >= 2)
        .with_columns(deviation=pl.col("normalised") - pl.col("consensus"))
    )
    return (
        rated.group_by("auditor")
        .agg(
            units=pl.len().cast(pl.Int64),
            mean_deviation=pl.col("deviation").mean(),
            mean_abs_deviation=pl.col("deviation").abs().mean(),
            exact_match=(pl.col("deviation").abs() < 1e-9).mean(),
        )
        .sort("mean_abs_deviation", "auditor", descending=[True, False])
    )
