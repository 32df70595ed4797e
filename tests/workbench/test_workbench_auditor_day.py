"""An auditor's day on the demo organisation, end to end through the CLI and the dashboard: the lead samples
a batch, the auditor opens their queue, scores, corrects a review, a manager disputes an item, an
arbitrator decides, the results page counts the reviews, and the lead moves open work to a colleague."""

from __future__ import annotations

import re

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from audits.config import AuditsConfig
from audits.results import review_frames
from servicelens.commands.audit import app as audit_app
from storage import audit_repo
from storage.db import make_engine
from tests.workbench.workbench_data import CARD, open_page, rate_everything

QUEUE = "app_pages/audit_queue.py"
RESULTS = "app_pages/audit_results.py"


def cli(*args: str) -> str:
    result = CliRunner().invoke(audit_app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def as_role(me: str, role: str) -> AppTest:
    app = open_page(QUEUE, {"me": me})
    app.radio(key="audit_role").set_value(role).run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def progress(app: AppTest) -> str:
    return str(app.get("progress")[0].proto.text)


def summary_line(output: str, auditor: str) -> str:
    return next(line for line in output.splitlines() if line.startswith(f"{auditor}: "))


def scores(url: str) -> dict[str, float]:
    engine = make_engine(url)
    try:
        frames = review_frames(
            audit_repo.load_reviews(engine), AuditsConfig().scorecard, audit_repo.load_disputes(engine)
        )
    finally:
        engine.dispose()
    return dict(zip(frames.scores["interaction_id"], frames.scores["score"], strict=True))


def test_an_auditors_day(demo_database: str) -> None:
    sampled = cli("sample", "--auditor", "ines", "--auditor", "jon", "--seed", "3")
    shares = re.search(r"ines (\d+)", sampled.splitlines()[0])
    assert shares is not None, sampled
    share = int(shares.group(1))
    assert share > 5
    assert summary_line(cli("queue", "--auditor", "ines"), "ines") == (
        f"ines: {share} to do, 0 disputed, 0 done (of {share})"
    )

    # Morning: ines opens her queue (a bookmark with ?me=ines) and scores three interactions.
    app = open_page(QUEUE, {"me": "ines"})
    assert progress(app).startswith(f"0 of {share} done")
    scored = []
    for greeting in (0, 1, 1):
        pick = str(app.selectbox(key="queue_pick").value)
        rate_everything(app, f"review:{pick}:0", greeting=greeting)
        app.button(key=f"review:{pick}:0:submit").click().run()
        assert not app.exception and not app.error, [e.value for e in app.error]
        scored.append(pick)
    assert len(set(scored)) == 3, "each save opens the next interaction still to do"
    assert progress(app).startswith(f"3 of {share} done")

    # She corrects the first review: the greeting was there after all.
    app.toggle(key="queue_show_done").set_value(True).run()
    app.selectbox(key="queue_pick").set_value(scored[0]).run()
    key = f"review:{scored[0]}:1"
    app.radio(key=f"{key}:rate:greeting").set_value(1)
    app.text_input(key=f"{key}:reason").set_value("greeting was in the second message")
    app.button(key=f"{key}:submit").click().run()
    assert not app.error
    assert scores(demo_database)[scored[0]] == pytest.approx(1.0)

    # A manager disputes the thanks on the second review; ines sees it as disputed in her queue.
    manager = as_role("mo", "Manager")
    label = next(o for o in manager.selectbox(key="dispute_review").options if o.startswith(scored[1]))
    manager.selectbox(key="dispute_review").set_value(label).run()
    manager.selectbox(key="dispute_item").set_value("thanks_at_close").run()
    manager.selectbox(key="dispute_rating:thanks_at_close").set_value(0)
    manager.text_area(key="dispute_comment").set_value("the closing message has no thanks")
    manager.button(key="dispute_submit").click().run()
    assert "Dispute raised" in manager.success[0].value
    assert manager.text_area(key="dispute_comment").value == "", "ready for the next dispute, not a repeat"
    assert summary_line(cli("queue", "--auditor", "ines"), "ines") == (
        f"ines: {share - 3} to do, 1 disputed, 2 done (of {share})"
    )
    mine = pl.from_pandas(open_page(QUEUE, {"me": "ines"}).dataframe[0].value)
    assert mine.filter(pl.col("interaction_id") == scored[1])["state"].to_list() == ["disputed"]

    # An arbitrator accepts it: only now does the score change.
    arbitrator = as_role("ana", "Arbitrator")
    assert arbitrator.selectbox(key="arbitrate_pick").options[0].startswith(scored[1])
    dispute_id = arbitrator.selectbox(key="arbitrate_pick").value
    arbitrator.text_input(key=f"decision:{dispute_id}").set_value("agreed, no thanks at close")
    arbitrator.button(key=f"accept:{dispute_id}").click().run()
    decided = pl.from_pandas(arbitrator.dataframe[-1].value)
    assert decided.select("interaction", "status", "decided by").rows() == [(scored[1], "accepted", "ana")]
    total = sum(item.weight for item in CARD.items)
    assert scores(demo_database)[scored[1]] == pytest.approx(1 - CARD.item("thanks_at_close").weight / total)
    assert "0 disputed, 3 done" in summary_line(cli("queue", "--auditor", "ines"), "ines")

    # The results page counts the three reviews.
    results = open_page(RESULTS, {"from": "2025-01-01", "to": "2026-03-31"})
    by_unit = pl.from_pandas(results.dataframe[0].value)
    assert by_unit["n"].sum() == 3

    # Ines falls ill at noon: the lead moves two of her open interactions to jon, with the reason logged.
    lead = as_role("lee", "Lead")
    lead.selectbox(key="reassign_from").set_value("ines").run()
    options = lead.multiselect(key="reassign_items").options
    assert not {o.split(" · ")[0] for o in options} & set(scored), "reviewed ones are not offered"
    lead.multiselect(key="reassign_items").set_value(options[:2])
    lead.selectbox(key="reassign_to").set_value("jon")
    lead.text_input(key="reassign_reason").set_value("ines is ill this afternoon")
    lead.button(key="reassign_submit").click().run()
    assert "2 interaction(s) moved" in lead.success[0].value
    queue = cli("queue")
    assert queue.count("/ from ines") == 2
    assert summary_line(queue, "ines").startswith(f"ines: {share - 5} to do")
