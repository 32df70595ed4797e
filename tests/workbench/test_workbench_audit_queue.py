"""The Audit queue page, driven headlessly: an auditor scores and edits, a manager disputes, an arbitrator
accepts or rejects, and everything lands in the database."""

from __future__ import annotations

from pathlib import Path

import pytest

from audits.config import AuditsConfig
from audits.results import review_frames
from audits.scoring import DisputeStatus
from storage import audit_repo
from storage.db import make_engine
from tests.workbench.workbench_data import (
    CARD,
    HOSTILE_BODY,
    load_organisation,
    markdown,
    open_page,
    rate_everything,
    texts,
)

QUEUE = "app_pages/audit_queue.py"


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'workbench.db'}"
    monkeypatch.setenv("SERVICELENS_DATABASE_URL", url)
    monkeypatch.setenv("SERVICELENS_CONFIG", str(Path(__file__).with_name("defaults_config.yaml")))
    load_organisation(url)
    return url


def stored_reviews(url: str) -> list:
    engine = make_engine(url)
    try:
        return audit_repo.load_reviews(engine)
    finally:
        engine.dispose()


def stored_disputes(url: str) -> list:
    engine = make_engine(url)
    try:
        return audit_repo.load_disputes(engine)
    finally:
        engine.dispose()


def current_score(url: str) -> float:
    engine = make_engine(url)
    try:
        reviews, disputes = audit_repo.load_reviews(engine), audit_repo.load_disputes(engine)
    finally:
        engine.dispose()
    return review_frames(reviews, AuditsConfig().scorecard, disputes).scores["score"][0]


def test_auditor_reads_escaped_transcript_and_saves_a_review(database: str) -> None:
    app = open_page(QUEUE, {"me": "ines"})
    first = app.selectbox(key="queue_pick").value
    assert first.startswith("demo:")
    shown = texts(app)
    assert any(HOSTILE_BODY in t for t in shown), "the message body is shown verbatim as text"
    assert "<script>" not in markdown(app) and "**not bold**" not in markdown(app)
    assert "Subject: Parcel" in " ".join(shown)

    key = f"review:{first}:0"
    app.button(key=f"{key}:submit").click().run()  # nothing rated yet
    assert "rate every item first" in app.error[0].value
    assert stored_reviews(database) == []

    rate_everything(app, key, greeting=0)
    app.text_input(key=f"{key}:note:greeting").set_value("no greeting at all")
    app.button(key=f"{key}:submit").click().run()
    assert not app.exception
    [review] = stored_reviews(database)
    assert (review.interaction_id, review.auditor, review.revision) == (first, "ines", 1)
    assert review.rating_for("greeting").rating == 0
    assert review.rating_for("greeting").comment == "no greeting at all"
    assert app.selectbox(key="queue_pick").value != first, "the next open interaction comes up"
    assert "1 of 2 done" in app.get("progress")[0].proto.text


def test_an_edit_keeps_the_history(database: str) -> None:
    app = open_page(QUEUE, {"me": "ines"})
    first = app.selectbox(key="queue_pick").value
    rate_everything(app, f"review:{first}:0", greeting=0)
    app.button(key=f"review:{first}:0:submit").click().run()

    app.toggle(key="queue_show_done").set_value(True).run()
    app.selectbox(key="queue_pick").set_value(first).run()
    key = f"review:{first}:1"
    assert app.radio(key=f"{key}:rate:greeting").value == 0, "the form opens with the saved ratings"
    app.radio(key=f"{key}:rate:greeting").set_value(1)
    app.button(key=f"{key}:submit").click().run()
    assert "an edit needs a reason" in app.error[0].value
    app.text_input(key=f"{key}:reason").set_value("greeting was in the second message")
    app.button(key=f"{key}:submit").click().run()
    assert not app.exception
    revisions = stored_reviews(database)
    assert [r.revision for r in revisions] == [1, 2]
    assert [r.rating_for("greeting").rating for r in revisions] == [0, 1]
    assert revisions[1].edit_reason == "greeting was in the second message"


def _score_one(database: str) -> str:
    app = open_page(QUEUE, {"me": "ines"})
    first = app.selectbox(key="queue_pick").value
    rate_everything(app, f"review:{first}:0")
    app.button(key=f"review:{first}:0:submit").click().run()
    return first


def _raise_dispute(item: str, comment: str) -> None:
    app = open_page(QUEUE, {"me": "mo"})
    app.radio(key="audit_role").set_value("Manager").run()
    app.selectbox(key="dispute_item").set_value(item).run()
    app.selectbox(key=f"dispute_rating:{item}").set_value(0)
    app.text_area(key="dispute_comment").set_value(comment)
    app.button(key="dispute_submit").click().run()
    assert not app.exception
    assert "Dispute raised" in app.success[0].value


@pytest.mark.parametrize("accept", [True, False], ids=["accepted", "rejected"])
def test_dispute_changes_the_score_only_when_accepted(database: str, accept: bool) -> None:
    _score_one(database)
    assert current_score(database) == pytest.approx(1.0)
    _raise_dispute("thanks_at_close", "the agent never thanked the customer")
    [dispute] = stored_disputes(database)
    assert (dispute.status, dispute.raised_by, dispute.proposed_rating) == (DisputeStatus.OPEN, "mo", 0)
    assert current_score(database) == pytest.approx(1.0), "an open dispute changes nothing"

    raiser = open_page(QUEUE, {"me": "mo"})
    raiser.radio(key="audit_role").set_value("Arbitrator").run()
    raiser.button(key=f"accept:{dispute.dispute_id}").click().run()
    assert "cannot decide it" in raiser.error[0].value
    assert stored_disputes(database)[0].status is DisputeStatus.OPEN

    app = open_page(QUEUE, {"me": "ana"})
    app.radio(key="audit_role").set_value("Arbitrator").run()
    assert any("never thanked" in t for t in texts(app))
    app.text_input(key=f"decision:{dispute.dispute_id}").set_value("checked the transcript")
    verb = "accept" if accept else "reject"
    app.button(key=f"{verb}:{dispute.dispute_id}").click().run()
    assert not app.exception
    [decided] = stored_disputes(database)
    assert decided.status is (DisputeStatus.ACCEPTED if accept else DisputeStatus.REJECTED)
    assert (decided.decided_by, decided.decision_comment) == ("ana", "checked the transcript")
    thanks_weight = CARD.item("thanks_at_close").weight
    total_weight = sum(item.weight for item in CARD.items)
    expected = 1 - thanks_weight / total_weight if accept else 1.0
    assert current_score(database) == pytest.approx(expected)
    assert "No open disputes." in [i.value for i in app.info]


def test_a_new_batch_is_created_from_the_dashboard(database: str) -> None:
    app = open_page(QUEUE, {"me": "kim"})
    assert "Nothing is assigned to kim" in app.info[0].value
    app.multiselect(key="batch_auditors").set_value(["kim", "jon"])
    app.button(key="batch_submit").click().run()
    assert not app.exception
    assert "4 interactions assigned" in app.success[0].value, "the four not yet sampled"
    assert any("unit(s) meet the target" in t for t in texts(app))
    app.run()
    assert app.selectbox(key="queue_pick").value.startswith("demo:")
    engine = make_engine(database)
    items = audit_repo.read_batch_items(engine)
    engine.dispose()
    assert items.height == 8
    assert items["interaction_id"].n_unique() == 8
    app.button(key="batch_submit").click().run()
    assert "No batch created" in app.error[0].value
