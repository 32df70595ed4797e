"""Calibration (Krippendorff's alpha, auditor deviation) and check-versus-auditor agreement (Cohen's kappa)."""

from __future__ import annotations

import math

import polars as pl
import pytest

from audits.agreement import auditor_outcomes, check_agreement, cohens_kappa
from audits.calibration import calibrate
from audits.config import Scale, Scorecard, ScorecardCategory, ScorecardItem

NAN = math.nan
# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", the reliability data with missing values:
# 4 observers x 12 units, values 1..5. Published: nominal .743, ordinal .815, interval .849.
TEXTBOOK = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
    [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
]


def card(*items: ScorecardItem) -> Scorecard:
    return Scorecard(
        id="cal", label="Cal", categories=[ScorecardCategory(id="c", label="C", items=list(items))]
    )


def textbook_items(item_id: str = "tone", low: int = 1, high: int = 5) -> pl.DataFrame:
    rows = []
    for observer, values in enumerate(TEXTBOOK):
        for unit, value in enumerate(values):
            if not math.isnan(value):
                rows.append(
                    {
                        "interaction_id": f"demo:{unit}",
                        "auditor": f"obs{observer}",
                        "item_id": item_id,
                        "normalised": (value - low) / (high - low),
                    }
                )
    return pl.DataFrame(rows)


def test_alpha_matches_krippendorffs_published_example() -> None:
    report = calibrate(textbook_items(), card(ScorecardItem(id="tone", label="Tone", scale=Scale.FIVE_POINT)))
    row = report.items.row(0, named=True)
    assert row["level"] == "ordinal"
    assert row["alpha"] == pytest.approx(0.815, abs=5e-4)
    assert (row["units"], row["raters"], row["flagged"]) == (12, 4, False)
    # Overall alpha pools (interaction, item) units with the interval metric; one item gives the interval value.
    assert report.overall_alpha == pytest.approx(0.849, abs=5e-4)


def test_nominal_alpha_for_binary_items_matches_the_published_value() -> None:
    # Nominal alpha only looks at equality, so the five textbook values may stand in as labels.
    items = textbook_items("greeting", low=0, high=1)
    report = calibrate(items, card(ScorecardItem(id="greeting", label="Greeting")))
    assert report.items["level"][0] == "nominal"
    assert report.items["alpha"][0] == pytest.approx(0.743, abs=5e-4)


def test_deviation_from_consensus_and_flags_on_a_hand_computed_session() -> None:
    # unit 1: A=1 B=1 C=0 (median 1); unit 2: A=1 B=0 C=0 (median 0)
    items = pl.DataFrame(
        {
            "interaction_id": ["u1"] * 3 + ["u2"] * 3,
            "auditor": ["A", "B", "C"] * 2,
            "item_id": ["greeting"] * 6,
            "normalised": [1.0, 1.0, 0.0, 1.0, 0.0, 0.0],
        }
    )
    scorecard = card(
        ScorecardItem(id="greeting", label="Greeting"),
        ScorecardItem(id="thanks", label="Thanks", allow_na=True),
    )
    report = calibrate(items, scorecard)
    deviations = {row["auditor"]: row for row in report.auditors.iter_rows(named=True)}
    assert deviations["A"]["mean_deviation"] == pytest.approx(0.5)
    assert deviations["A"]["mean_abs_deviation"] == pytest.approx(0.5)
    assert deviations["B"]["exact_match"] == pytest.approx(1.0)
    assert deviations["C"]["mean_deviation"] == pytest.approx(-0.5)
    greeting, thanks = report.items.row(0, named=True), report.items.row(1, named=True)
    assert greeting["alpha"] < 0.667 and greeting["flagged"] and greeting["note"] == "below threshold"
    assert thanks["alpha"] is None and thanks["flagged"] and thanks["note"] == "not rated"


def test_unanimous_ratings_leave_alpha_undefined_and_flagged() -> None:
    items = pl.DataFrame(
        {"interaction_id": ["u1", "u1", "u2", "u2"], "auditor": ["A", "B"] * 2, "item_id": ["g"] * 4,
         "normalised": [1.0] * 4}
    )  # fmt: skip
    row = calibrate(items, card(ScorecardItem(id="g", label="G"))).items.row(0, named=True)
    assert row["alpha"] is None and row["flagged"]
    assert row["note"] == "every rating was the same value, so alpha is undefined"


def test_duplicate_ratings_are_rejected_with_names() -> None:
    items = pl.DataFrame({"interaction_id": ["u1", "u1"], "auditor": ["A", "A"], "item_id": ["g", "g"],
                          "normalised": [1.0, 0.0]})  # fmt: skip
    with pytest.raises(ValueError, match="auditor A rated item g of u1 more than once"):
        calibrate(items, card(ScorecardItem(id="g", label="G")))


def test_cohens_kappa_on_the_classic_two_by_two_table() -> None:
    # 50 units: yes/yes 20, yes/no 5, no/yes 10, no/no 15 -> p_o = .7, p_e = .5*.6 + .5*.4 = .5, kappa = .4
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert cohens_kappa(a, b) == pytest.approx(0.4)
    assert cohens_kappa(["x", "x"], ["x", "x"]) is None
    assert cohens_kappa([], []) is None
    with pytest.raises(ValueError, match="different numbers"):
        cohens_kappa(["x"], [])


def test_agreement_between_checks_and_auditors_per_item() -> None:
    pairs = [("pass", 1), ("pass", 1), ("pass", 1), ("fail", 0), ("pass", 0), ("not_applicable", None)]
    checks = pl.DataFrame(
        {
            "interaction_id": [f"demo:{i}" for i in range(6)] + ["demo:0"],
            "check": ["greeting"] * 6 + ["broken"],
            "item": ["greeting"] * 6 + ["greeting"],
            "outcome": [auto for auto, _ in pairs] + ["error"],
        }
    )
    items = pl.DataFrame(
        {
            "review_id": [f"r{i}" for i in range(6)],
            "interaction_id": [f"demo:{i}" for i in range(6)],
            "auditor": ["Ines"] * 6,
            "item_id": ["greeting"] * 6,
            "normalised": [None if human is None else float(human) for _, human in pairs],
        },
        schema_overrides={"normalised": pl.Float64},
    )
    out = check_agreement(checks, items).row(0, named=True)
    # auto: pass 4 fail 1 na 1; auditor: pass 3 fail 2 na 1 -> p_o 5/6, p_e 15/36, kappa 15/21
    assert (out["check"], out["n"]) == ("greeting", 6)
    assert out["agreement"] == pytest.approx(5 / 6)
    assert out["kappa"] == pytest.approx(15 / 21)
    assert (out["check_pass_auditor_fail"], out["check_fail_auditor_pass"]) == (1, 0)
    assert check_agreement(checks, items).height == 1  # the errored check is left out


def test_three_point_ratings_pass_from_the_middle() -> None:
    items = pl.DataFrame(
        {"review_id": ["r"] * 3, "interaction_id": ["i"] * 3, "auditor": ["A"] * 3, "item_id": ["a", "b", "c"],
         "normalised": [0.0, 0.5, None]}
    )  # fmt: skip
    assert auditor_outcomes(items)["auditor_outcome"].to_list() == ["fail", "pass", "not_applicable"]
