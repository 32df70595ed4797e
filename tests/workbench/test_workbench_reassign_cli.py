"""`servicelens audit queue` and `servicelens audit reassign`: replacing an auditor needs a reason, is
logged, and never moves an interaction that was already reviewed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from audits.sampling import SamplingError
from audits.scoring import ItemRating, Review
from servicelens.commands.audit import app as audit_app
from servicelens.commands.audit import sample_batch
from servicelens.config import ServicelensConfig
from storage import audit_repo
from storage.db import make_engine
from tests.workbench.workbench_data import CARD, load_organisation


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'workbench.db'}"
    monkeypatch.setenv("SERVICELENS_DATABASE_URL", url)
    monkeypatch.setenv("SERVICELENS_CONFIG", str(Path(__file__).with_name("defaults_config.yaml")))
    load_organisation(url)
    return url


def run(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(audit_app, list(args))
    assert result.exit_code == code, result.output
    return result.output


def batch_items(url: str) -> pl.DataFrame:
    engine = make_engine(url)
    try:
        return audit_repo.read_batch_items(engine)
    finally:
        engine.dispose()


def reassignment_log(url: str) -> pl.DataFrame:
    engine = make_engine(url)
    try:
        return audit_repo.read_reassignments(engine)
    finally:
        engine.dispose()


def review(url: str, interaction_id: str, auditor: str) -> None:
    ratings = tuple(ItemRating(item.id, item.scale.high) for item in CARD.items)
    engine = make_engine(url)
    with engine.begin() as conn:
        audit_repo.save_review(
            conn,
            Review(
                audit_repo.new_id("rv"),
                interaction_id,
                auditor,
                CARD.id,
                CARD.version,
                ratings,
                datetime(2026, 3, 4, 10, tzinfo=UTC),
            ),
            CARD,
            batch_id=1,
        )
    engine.dispose()


def first_of(url: str, auditor: str) -> str:
    return str(batch_items(url).filter(pl.col("auditor") == auditor)["interaction_id"][0])


def test_queue_lists_each_auditors_items_with_their_state(database: str) -> None:
    done = first_of(database, "ines")
    review(database, done, "ines")
    output = run("queue", "--auditor", "ines")
    lines = output.splitlines()
    assert lines[0].split()[:5] == ["batch", "interaction", "auditor", "state", "score"]
    rows = [line for line in lines[1:] if line.strip().startswith("1 ")]
    assert len(rows) == 2 and all(" ines " in row for row in rows)
    assert rows[-1].split()[1:4] == [done, "ines", "done"], "open work is listed first"
    assert "100.0%" in rows[-1]
    assert rows[0].split()[3:5] == ["to", "do"]
    assert lines[-1] == "ines: 1 to do, 0 disputed, 1 done (of 2)"

    everyone = run("queue")
    assert "ines: 1 to do" in everyone and "jon: 2 to do, 0 disputed, 0 done (of 2)" in everyone
    assert run("queue", "--auditor", "kim").strip() == "nothing is assigned to kim"


def test_reassign_moves_open_items_and_logs_who_when_from_to_why(database: str) -> None:
    moving = first_of(database, "ines")
    output = run("reassign", moving, "--to", "kim", "--reason", "ines is on leave", "--by", "lead")
    assert f"{moving}: ines -> kim (ines is on leave)" in output
    assert "1 interaction(s) reassigned by lead" in output
    items = batch_items(database)
    assert items.filter(pl.col("interaction_id") == moving)["auditor"].to_list() == ["kim"]
    [entry] = reassignment_log(database).to_dicts()
    assert (entry["batch_id"], entry["interaction_id"]) == (1, moving)
    assert (entry["from_auditor"], entry["to_auditor"], entry["reassigned_by"]) == ("ines", "kim", "lead")
    assert entry["reason"] == "ines is on leave"
    assert entry["reassigned_at"].tzinfo is not None

    queue = run("queue", "--auditor", "kim")
    assert "/ from ines" in queue and "kim: 1 to do" in queue
    # the batch/interaction form names the same item
    run("reassign", f"1/{moving}", "--to", "jon", "--reason", "kim is ill")
    assert reassignment_log(database)["to_auditor"].to_list() == ["kim", "jon"]


def test_reassign_refuses_without_a_reason_and_changes_nothing(database: str) -> None:
    moving = first_of(database, "ines")
    before = batch_items(database)
    for reason in ([], ["--reason", "   "]):
        result = CliRunner().invoke(audit_app, ["reassign", moving, "--to", "kim", *reason])
        assert result.exit_code == 1
        assert "needs a reason" in result.output
    assert batch_items(database).equals(before)
    assert reassignment_log(database).is_empty()


def test_a_reviewed_item_stays_with_its_auditor(database: str) -> None:
    reviewed, still_open = batch_items(database).filter(pl.col("auditor") == "ines")["interaction_id"]
    review(database, reviewed, "ines")
    result = CliRunner().invoke(
        audit_app, ["reassign", still_open, reviewed, "--to", "kim", "--reason", "leave"]
    )
    assert result.exit_code == 1
    assert f"{reviewed} (reviewed by ines)" in result.output
    assert "edit or dispute the review instead" in result.output
    items = batch_items(database)
    assert set(items.filter(pl.col("auditor") == "ines")["interaction_id"]) == {reviewed, still_open}, (
        "all or nothing: the open one did not move either"
    )
    assert reassignment_log(database).is_empty()


def test_unknown_items_same_auditor_and_the_agent_are_refused(database: str) -> None:
    moving = first_of(database, "ines")
    assert "not a sampled interaction" in run("reassign", "demo:nope", "--to", "kim", "--reason", "x", code=1)
    assert "not a sampled interaction" in run(
        "reassign", "7/" + moving, "--to", "kim", "--reason", "x", code=1
    )
    assert "already assigned to ines" in run("reassign", moving, "--to", "ines", "--reason", "x", code=1)
    agent = f"agent{int(moving.removeprefix('demo:')) % 3}"  # as in workbench_data.organisation
    assert "handled it as the agent" in run("reassign", moving, "--to", agent, "--reason", "x", code=1)
    assert reassignment_log(database).is_empty()


def test_sampling_an_empty_window_says_so(database: str) -> None:
    engine = make_engine(database)
    try:
        with pytest.raises(
            SamplingError, match=r"in the last 1 day\(s\) before 2026-04-01; the newest is from 2026-03-02"
        ):
            sample_batch(
                engine, ServicelensConfig(), now=datetime(2026, 4, 1, tzinfo=UTC), auditors=["kim"], days=1
            )
    finally:
        engine.dispose()
