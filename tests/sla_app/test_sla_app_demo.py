"""The planted demo findings show up in the SLA results, and the example config matches the demo's sites."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest
import yaml

from servicelens.commands.sla import evaluate_and_store
from servicelens.config import EXAMPLE_CONFIG_PATH, ServicelensConfig, parse_config
from servicelens.demo import LOCATIONS
from servicelens.demo.organisation import WEEKDAYS
from sla.compliance import compliance
from sla.config import WEEKDAY_INDEX, parse_hours
from storage.repo import read_interactions
from tests.sla_app.conftest import EVALUATED_AT, demo_folder, loaded_engine


@pytest.fixture(scope="module")
def demo_results(
    tmp_path_factory: pytest.TempPathFactory, example_config: ServicelensConfig
) -> tuple[pl.DataFrame, pl.DataFrame]:
    folder = demo_folder(tmp_path_factory, 4000)
    url = f"sqlite:///{tmp_path_factory.mktemp('findings') / 'demo.db'}"
    engine = loaded_engine(url, folder)
    evaluation = evaluate_and_store(engine, example_config, EVALUATED_AT)
    interactions = read_interactions(engine)
    engine.dispose()
    return evaluation.results, interactions


def test_manchester_has_the_lowest_first_response_compliance(
    demo_results: tuple[pl.DataFrame, pl.DataFrame], example_config: ServicelensConfig
) -> None:
    results, interactions = demo_results
    by_site = (
        compliance(results.lazy(), interactions.lazy(), by=["location"], config=example_config.sla)
        .filter(pl.col("metric") == "first_response")
        .collect()
        .sort("compliance")
    )
    assert by_site.height == len(LOCATIONS)
    assert by_site["n"].min() >= 100  # type: ignore[operator]
    worst, runner_up = by_site.row(0, named=True), by_site.row(1, named=True)
    assert worst["location"] == "Manchester"
    assert worst["compliance"] < runner_up["compliance"] - 0.08
    assert worst["median_elapsed_minutes"] > 1.5 * by_site["median_elapsed_minutes"].median()  # type: ignore[operator]


def test_payments_has_the_lowest_urgent_resolution_compliance(
    demo_results: tuple[pl.DataFrame, pl.DataFrame], example_config: ServicelensConfig
) -> None:
    results, interactions = demo_results
    urgent = interactions.filter(pl.col("priority") == "urgent")
    by_team = (
        compliance(results.lazy(), urgent.lazy(), by=["team"], config=example_config.sla)
        .filter((pl.col("metric") == "resolution") & pl.col("team").is_not_null())
        .collect()
        .sort("median_elapsed_minutes", descending=True)
    )
    assert by_team.row(0, named=True)["team"] == "Payments"


def _hours_text(start: float, end: float) -> str:
    def clock(hours: float) -> str:
        return f"{int(hours):02d}:{round((hours % 1) * 60):02d}"

    return f"{clock(start)}-{clock(end)}"


def test_example_calendars_are_the_demo_sites(example_config: ServicelensConfig) -> None:
    sla = example_config.sla
    assert set(sla.location_calendars) == {loc.name for loc in LOCATIONS}
    for site in LOCATIONS:
        calendar = sla.calendars[sla.location_calendars[site.name]]
        assert calendar.timezone == site.timezone, site.name
        assert [(h.country, h.subdivision) for h in calendar.holidays] == [(site.country, site.subdivision)]
        weekly = calendar.weekly_minutes()
        for index, hours in enumerate(site.hours):
            want = [] if hours is None else [parse_hours(_hours_text(*hours))]
            assert weekly.get(index, []) == want, f"{site.name} {WEEKDAYS[index]}"
    assert set(WEEKDAY_INDEX.values()) == set(range(7))


def test_the_commented_audit_checks_of_the_example_config_are_valid() -> None:
    text = EXAMPLE_CONFIG_PATH.read_text(encoding="utf-8")
    block = re.search(r"^  # checks:\n((?:  #   .*\n)+)", text, flags=re.MULTILINE)
    assert block is not None
    uncommented = "  checks:\n" + re.sub(r"^  # ", "  ", block.group(1), flags=re.MULTILINE)
    data = yaml.safe_load(text.replace(block.group(0), uncommented))
    config = parse_config(data, str(EXAMPLE_CONFIG_PATH), environ={})
    assert [check.name for check in config.audits.checks] == ["apology_for_delay", "no_jargon"]


def test_check_config_accepts_the_example(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from servicelens.cli import app

    result = CliRunner().invoke(app, ["check-config", "--config", str(EXAMPLE_CONFIG_PATH)])
    assert result.exit_code == 0, result.output
