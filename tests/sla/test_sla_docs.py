"""The SLA documentation covers every metric, status and option, and its YAML examples are valid config."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from servicelens.config import parse_config
from sla.config import (
    CalendarConfig,
    CalendarException,
    HolidaySource,
    Metric,
    MetricTargets,
    PolicyConditions,
    SlaConfig,
    SlaPolicy,
)
from sla.evaluate import RESULT_COLUMNS, STATUSES

DOC = Path(__file__).resolve().parents[2] / "docs" / "sla.md"


def test_every_metric_status_column_and_option_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    models = (
        SlaConfig,
        CalendarConfig,
        CalendarException,
        HolidaySource,
        MetricTargets,
        PolicyConditions,
        SlaPolicy,
    )
    names = [*(m.value for m in Metric), *STATUSES, *RESULT_COLUMNS]
    names += [field for model in models for field in model.model_fields]
    missing = [name for name in names if f"`{name}`" not in text and f"{name}:" not in text]
    assert not missing, f"{DOC} does not mention {missing}"


def test_yaml_examples_in_the_documentation_are_valid_config() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) == 2
    merged: dict[str, Any] = {}
    for block in blocks:
        merged.update(yaml.safe_load(block)["sla"])
    config = parse_config({"sla": merged}, environ={}).sla
    assert config.policies[0].name == "VIP email"
    assert config.calendars["london"].weekly_minutes()[5] == [(1320, 1800)]
