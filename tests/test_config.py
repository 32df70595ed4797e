"""Config loading: strict validation with paths, env overrides, the shipped example, the CLI check."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from servicelens.cli import app
from servicelens.config import EXAMPLE_CONFIG_PATH, ConfigError, load_config, parse_config


def test_example_config_is_valid() -> None:
    cfg = load_config(EXAMPLE_CONFIG_PATH, environ={})
    assert cfg.metrics.fcr_window_days == 7


def test_unknown_keys_are_errors_with_their_path() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"metrics": {"fcr_window_dayz": 3}, "database": {"url": 5}}, "x.yaml", environ={})
    text = str(info.value)
    assert "metrics.fcr_window_dayz: Extra inputs are not permitted" in text
    assert "database.url:" in text
    assert len(info.value.errors) == 2


def test_env_overrides(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("metrics:\n  fcr_window_days: 3\n")
    env = {"SERVICELENS_DATABASE_URL": "sqlite:///x.db", "SERVICELENS__METRICS__FCR_WINDOW_DAYS": "14"}
    cfg = load_config(path, environ=env)
    assert cfg.database.resolved_url() == "sqlite:///x.db"
    assert cfg.metrics.fcr_window_days == 14


def test_env_override_errors_name_the_path() -> None:
    with pytest.raises(ConfigError, match=r"metrics.fcr_window_days"):
        parse_config({}, environ={"SERVICELENS__METRICS__FCR_WINDOW_DAYS": "soon"})


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("metrics:\n  fcr_window_days: [1\n")
    with pytest.raises(ConfigError, match=r"line \d+, column \d+: not valid YAML"):
        load_config(path, environ={})


def test_check_config_cli(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("metrics:\n  fcr_window_days: 5\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("metrics:\n  fcr_window_days: -1\ncolour: red\n")
    runner = CliRunner()
    ok = runner.invoke(app, ["check-config", "--config", str(good)])
    assert ok.exit_code == 0 and "config OK" in ok.output
    failed = runner.invoke(app, ["check-config", "--config", str(bad)])
    assert failed.exit_code == 2
    assert "metrics.fcr_window_days: Input should be greater than or equal to 0" in failed.output
    assert "colour: Extra inputs are not permitted" in failed.output
    missing = runner.invoke(app, ["check-config", "--config", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 2 and "not found" in missing.output


def test_every_command_has_help() -> None:
    runner = CliRunner()
    for command in (["demo"], ["ingest"], ["check-config"], ["db", "upgrade"], ["quarantine"]):
        result = runner.invoke(app, [*command, "--help"])
        assert result.exit_code == 0, command
        assert len(result.output.strip().splitlines()) > 3
