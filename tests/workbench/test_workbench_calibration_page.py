"""The Calibration page: create a session, score blind, read alpha per item and the auditors' deviations."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from audits.scoring import ItemRating
from storage import calibration_repo
from storage.db import make_engine
from tests.workbench.workbench_data import CARD, load_organisation, open_page, rate_everything

CALIBRATION = "app_pages/calibration.py"


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'calibration.db'}"
    monkeypatch.setenv("SERVICELENS_DATABASE_URL", url)
    monkeypatch.setenv("SERVICELENS_CONFIG", str(Path(__file__).with_name("defaults_config.yaml")))
    load_organisation(url)
    return url


def sessions(url: str) -> list[calibration_repo.CalibrationSession]:
    engine = make_engine(url)
    try:
        return calibration_repo.read_calibration_sessions(engine)
    finally:
        engine.dispose()


def test_session_is_created_scored_blind_and_reported(database: str) -> None:
    app = open_page(CALIBRATION, {"me": "ines"})
    app.text_input(key="cal_name").set_value("March calibration")
    app.multiselect(key="cal_auditors").set_value(["ines", "jon"])
    app.number_input(key="cal_count").set_value(2)
    app.button(key="cal_submit").click().run()
    assert not app.exception
    [session] = sessions(database)
    assert (session.name, session.auditors, len(session.interaction_ids)) == (
        "March calibration",
        ("ines", "jon"),
        2,
    )

    first = app.selectbox(key=f"cal_pick:{session.session_id}").value
    key = f"cal:{session.session_id}:ines:{first}"
    rate_everything(app, key, greeting=0)
    app.button(key=f"{key}:submit").click().run()
    assert not app.exception
    assert "You scored 1 of 2" in app.get("progress")[0].proto.text
    assert app.selectbox(key=f"cal_pick:{session.session_id}").value != first

    jon = open_page(CALIBRATION, {"me": "jon"})
    jon.selectbox(key=f"cal_pick:{session.session_id}").set_value(first).run()
    hidden = jon.radio(key=f"cal:{session.session_id}:jon:{first}:rate:greeting")
    assert hidden.value is None, "another auditor's scores are never shown while scoring"

    engine = make_engine(database)
    with engine.begin() as conn:
        for position, interaction_id in enumerate(session.interaction_ids):
            for auditor in session.auditors:
                greeting = position % 2 if auditor == "ines" else 1 - position % 2
                ratings = [
                    ItemRating(item.id, greeting if item.id == "greeting" else item.scale.low + position % 2)
                    for item in CARD.items
                ]
                calibration_repo.save_calibration_scores(
                    conn,
                    session,
                    CARD,
                    auditor=auditor,
                    interaction_id=interaction_id,
                    ratings=ratings,
                    scored_at=session.created_at,
                )
    engine.dispose()

    report = open_page(CALIBRATION, {"me": "ines"})
    report.radio(key="cal_mode").set_value("Results").run()
    assert not report.exception
    assert report.metric[0].label == "Overall Krippendorff's alpha"
    items = pl.from_pandas(report.dataframe[1].value)
    flagged = items.filter(pl.col("flag") == "⚠")["item_id"].to_list()
    assert "greeting" in flagged
    assert items.filter(pl.col("item_id") == "empathy")["alpha"][0] == pytest.approx(1.0)
    assert "greeting" in report.warning[0].value
    deviations = pl.from_pandas(report.dataframe[2].value)
    assert sorted(deviations["auditor"].to_list()) == ["ines", "jon"]
