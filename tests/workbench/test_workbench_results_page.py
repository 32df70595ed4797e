"""The Audit results page on scored reviews: scores by unit with n and intervals, drill-down to the
reviews behind a figure, weakest items, and agreement between checks and auditors."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from audits.config import AuditsConfig
from audits.results import review_frames, scores_by
from audits.scoring import ItemRating, Review
from servicelens.commands.audit import run_and_store_checks
from servicelens.config import load_config
from storage import audit_repo
from storage.db import make_engine
from storage.repo import read_interactions
from tests.workbench.workbench_data import CARD, T0, load_organisation, open_page

RESULTS = "app_pages/audit_results.py"


@pytest.fixture
def reviewed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'results.db'}"
    monkeypatch.setenv("SERVICELENS_DATABASE_URL", url)
    monkeypatch.setenv("SERVICELENS_CONFIG", str(Path(__file__).with_name("defaults_config.yaml")))
    load_organisation(url)
    engine = make_engine(url)
    run_and_store_checks(engine, load_config(), T0)  # the dashboard's own config
    with engine.begin() as conn:
        for i in range(6):
            greeting = 0 if i < 2 else 1  # the checks see a greeting everywhere: two disagreements
            ratings = tuple(
                ItemRating(item.id, greeting if item.id == "greeting" else item.scale.high)
                for item in CARD.items
            )
            review = Review(f"rv-{i}", f"demo:{i}", "ines", CARD.id, CARD.version, ratings, T0)
            audit_repo.save_review(conn, review, CARD)
    engine.dispose()
    return url


def test_scores_by_location_with_drill_down_and_agreement(reviewed: str) -> None:
    app = open_page(RESULTS, {"from": "2026-03-01", "to": "2026-03-31"})
    assert not app.exception
    table = pl.from_pandas(app.dataframe[0].value)
    engine = make_engine(reviewed)
    frames = review_frames(audit_repo.load_reviews(engine), AuditsConfig().scorecard)
    want = scores_by(frames.scores, read_interactions(engine), ["location"], pass_mark=0.8)
    engine.dispose()
    assert table["location"].to_list() == want["location"].to_list()
    assert table["n"].to_list() == want["n"].to_list() == [3, 3]
    assert table["mean score %"].to_list() == pytest.approx([round(100 * v, 1) for v in want["mean_score"]])
    assert all("–" in ci for ci in table["score 95% CI"])

    app.selectbox(key="results_drill").set_value("York").run()
    behind = pl.from_pandas(app.dataframe[1].value)
    assert sorted(behind["interaction_id"]) == sorted(
        want.filter(pl.col("location") == "York")["review_ids"][0].str.replace("rv-", "demo:").to_list()
    )

    frames_shown = [pl.from_pandas(d.value) for d in app.dataframe]
    weakest = next(f for f in frames_shown if "mean rating %" in f.columns)
    assert weakest["item_id"][0] == "greeting"
    agreement = next(f for f in frames_shown if "agreement %" in f.columns)
    greeting = agreement.filter(pl.col("item_id") == "greeting").row(0, named=True)
    assert greeting["n"] == 6
    assert greeting["agreement %"] == pytest.approx(100 * 4 / 6, abs=0.05)
    assert greeting["check pass, auditor fail"] == 2
