"""The lead's side of the Audit queue page: team progress, replacing the auditor of open interactions with
a required reason, the reassignment log, and reviewed interactions staying with their auditor."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from tests.workbench.test_workbench_reassign_cli import batch_items, reassignment_log, review
from tests.workbench.workbench_data import load_organisation, open_page

QUEUE = "app_pages/audit_queue.py"


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'workbench.db'}"
    monkeypatch.setenv("SERVICELENS_DATABASE_URL", url)
    monkeypatch.setenv("SERVICELENS_CONFIG", str(Path(__file__).with_name("defaults_config.yaml")))
    load_organisation(url)
    return url


def as_lead(name: str = "lee") -> AppTest:
    app = open_page(QUEUE, {"me": name})
    app.radio(key="audit_role").set_value("Lead").run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def unescape(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown)


def shown_error(app: AppTest) -> str:
    return unescape(app.error[0].value)


def frame(app: AppTest, index: int) -> pl.DataFrame:
    return pl.from_pandas(app.dataframe[index].value)


def test_lead_replaces_an_auditor_with_a_reason_and_the_log_shows_it(database: str) -> None:
    app = as_lead()
    progress = frame(app, 0)
    assert progress.select("auditor", "to do", "done").rows() == [("ines", 2, 0), ("jon", 2, 0)]
    assert "No auditor has been replaced yet." in [c.value for c in app.caption]

    app.selectbox(key="reassign_from").set_value("ines").run()
    choices = app.multiselect(key="reassign_items").options
    assert len(choices) == 2 and all("batch 1" in c for c in choices)
    app.multiselect(key="reassign_items").set_value(app.multiselect(key="reassign_items").options)
    assert "ines" not in app.selectbox(key="reassign_to").options, "not to the auditor it comes from"
    app.selectbox(key="reassign_to").set_value("jon")
    app.button(key="reassign_submit").click().run()
    assert "needs a reason" in shown_error(app) and "Nothing reassigned" in shown_error(app)
    assert reassignment_log(database).is_empty()
    assert set(batch_items(database)["auditor"]) == {"ines", "jon"}

    app.text_input(key="reassign_reason").set_value("ines is on leave this week")
    app.button(key="reassign_submit").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert "2 interaction(s) moved from ines to jon." in unescape(app.success[0].value)
    assert batch_items(database)["auditor"].to_list() == ["jon"] * 4

    log = frame(app, 1)
    assert log.columns == ["when", "by", "interaction", "from", "to", "why", "batch"]
    assert log.select("by", "from", "to", "why").unique().rows() == [
        ("lee", "ines", "jon", "ines is on leave this week")
    ]
    assert log.height == 2
    assert frame(app, 0).select("auditor", "to do").rows() == [("jon", 4)]

    jon = open_page(QUEUE, {"me": "jon"})
    assert "0 of 4 done" in jon.get("progress")[0].proto.text, "the new auditor finds them in their queue"
    ines = open_page(QUEUE, {"me": "ines"})
    assert "Nothing is assigned to ines" in unescape(ines.info[0].value)


def test_a_reviewed_interaction_cannot_be_reassigned(database: str) -> None:
    reviewed, still_open = batch_items(database).filter(pl.col("auditor") == "jon")["interaction_id"]
    review(database, reviewed, "jon")
    app = as_lead()
    app.selectbox(key="reassign_from").set_value("jon").run()
    assert [o.split(" · ")[0] for o in app.multiselect(key="reassign_items").options] == [still_open]
    assert any("already reviewed are not listed" in c.value for c in app.caption)

    # The auditor saves a review of the other one while the lead has the form open.
    app.multiselect(key="reassign_items").set_value([f"1/{still_open}"])
    app.selectbox(key="reassign_to").set_value("ines")
    app.text_input(key="reassign_reason").set_value("balance the load")
    review(database, still_open, "jon")
    app.button(key="reassign_submit").click().run()
    assert f"{still_open} (reviewed by jon)" in shown_error(app)
    assert "stays with its auditor" in shown_error(app)
    assert reassignment_log(database).is_empty()
    assert sorted(batch_items(database).filter(pl.col("auditor") == "jon")["interaction_id"]) == sorted(
        [reviewed, still_open]
    )


def test_choosing_nothing_or_nobody_is_refused(database: str) -> None:
    app = as_lead()
    app.text_input(key="reassign_reason").set_value("leave")
    app.button(key="reassign_submit").click().run()
    assert "choose at least one interaction" in shown_error(app)
    app.multiselect(key="reassign_items").set_value(app.multiselect(key="reassign_items").options[:1])
    app.button(key="reassign_submit").click().run()
    assert "name the auditor who takes the interactions over" in shown_error(app)
    assert reassignment_log(database).is_empty()
