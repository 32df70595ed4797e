"""Audit configuration: scorecards (versioned), the sampling plan, precision targets and protocol checks.

An empty ``audits:`` section is valid: it yields the default scorecard built from the service principles
and the default protocol checks (see ``audits.defaults``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field, field_validator, model_validator

from servicelens.strict import StrictModel

IDENTIFIER = r"^[a-z][a-z0-9_\-]*$"


class Scale(StrEnum):
    """Rating scales. Binary items are rated 0 or 1; n-point items 1..n."""

    BINARY = "binary"
    THREE_POINT = "3-point"
    FOUR_POINT = "4-point"
    FIVE_POINT = "5-point"

    @property
    def low(self) -> int:
        return 0 if self is Scale.BINARY else 1

    @property
    def high(self) -> int:
        return {Scale.BINARY: 1, Scale.THREE_POINT: 3, Scale.FOUR_POINT: 4, Scale.FIVE_POINT: 5}[self]


class ScorecardItem(StrictModel):
    id: str = Field(pattern=IDENTIFIER, description="stable id used in reviews, checks and results")
    label: str
    description: str = ""
    scale: Scale = Scale.BINARY
    weight: float = Field(default=1.0, gt=0, description="relative weight in the review score")
    allow_na: bool = Field(default=False, description="the auditor may mark the item not applicable")
    critical: bool = Field(default=False, description="failing this item sets the whole review score to 0")
    critical_fail_at_or_below: int | None = Field(
        default=None, description="rating that counts as a critical failure; default: the bottom of the scale"
    )

    @model_validator(mode="after")
    def _fail_threshold_on_scale(self) -> ScorecardItem:
        threshold = self.critical_fail_at_or_below
        if threshold is not None and not self.scale.low <= threshold < self.scale.high:
            raise ValueError(
                f"critical_fail_at_or_below={threshold} must lie in {self.scale.low}..{self.scale.high - 1} "
                f"for a {self.scale.value} scale"
            )
        return self

    @property
    def critical_threshold(self) -> int:
        return self.scale.low if self.critical_fail_at_or_below is None else self.critical_fail_at_or_below


class ScorecardCategory(StrictModel):
    id: str = Field(pattern=IDENTIFIER)
    label: str
    items: list[ScorecardItem] = Field(min_length=1)


class Scorecard(StrictModel):
    """A versioned scorecard. A review keeps the (id, version) it was scored on."""

    id: str = Field(pattern=IDENTIFIER)
    version: int = Field(default=1, ge=1)
    label: str
    categories: list[ScorecardCategory] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> Scorecard:
        seen: set[str] = set()
        for category in self.categories:
            for item in category.items:
                if item.id in seen:
                    raise ValueError(f"item id {item.id!r} appears more than once")
                seen.add(item.id)
        return self

    @property
    def items(self) -> list[ScorecardItem]:
        return [item for category in self.categories for item in category.items]

    def item(self, item_id: str) -> ScorecardItem:
        for item in self.items:
            if item.id == item_id:
                return item
        raise KeyError(f"scorecard {self.id} v{self.version} has no item {item_id!r}")

    def category_of(self, item_id: str) -> str:
        for category in self.categories:
            if any(item.id == item_id for item in category.items):
                return category.id
        raise KeyError(f"scorecard {self.id} v{self.version} has no item {item_id!r}")


Position = Literal["any", "first", "last"]
Expectation = Literal["present", "absent"]


class ProtocolCheck(StrictModel):
    """One automatic check on transcripts; ``type`` names a registered check type (audits.check_registry)."""

    name: str = Field(pattern=IDENTIFIER)
    type: str = Field(description="registered check type: phrases, regex, customer_name, ...")
    description: str = ""
    item: str | None = Field(default=None, description="scorecard item the check mirrors, for agreement")
    position: Position = Field(default="any", description="which agent messages are searched")
    expect: Expectation = Field(
        default="present", description="absent: a match is a failure (forbidden words)"
    )
    when: list[str] = Field(default=[], description="registered conditions that must all hold to apply")
    phrases: dict[str, list[str]] = Field(default={}, description="language -> phrases (case-insensitive)")
    patterns: dict[str, list[str]] = Field(default={}, description="language -> regular expressions")

    @model_validator(mode="after")
    def _known_type_and_parameters(self) -> ProtocolCheck:
        # Imported here: the registry module refers back to these models.
        from audits.check_registry import CHECK_TYPES, CONDITIONS

        check_type = CHECK_TYPES.get(self.type)
        if check_type is None:
            raise ValueError(
                f"unknown check type {self.type!r}; registered: {', '.join(sorted(CHECK_TYPES))}"
            )
        problems = check_type.validate(self)
        unknown = [c for c in self.when if c not in CONDITIONS]
        if unknown:
            problems.append(f"unknown condition(s) {unknown}; registered: {', '.join(sorted(CONDITIONS))}")
        if problems:
            raise ValueError("; ".join(problems))
        return self


Stratum = Literal["location", "team", "agent"]
TargetedRuleName = Literal["low_csat", "sla_breached", "reopened", "long_resolution"]


class TargetedRule(StrictModel):
    rule: TargetedRuleName
    quota: int = Field(default=1, ge=0, description="interactions per stratum picked by this rule")
    csat_at_most: int = Field(default=2, ge=1, le=5, description="low_csat: CSAT at or below this")
    resolution_hours_over: float = Field(default=72.0, gt=0, description="long_resolution: hours to resolve")


class SamplingPlan(StrictModel):
    strata: list[Stratum] = Field(default=["agent"], min_length=1, description="columns that form a stratum")
    per_stratum: int = Field(default=4, ge=0, description="random interactions per stratum")
    quota_overrides: dict[str, int] = Field(
        default={}, description="stratum key (values joined by ' / ') -> random quota for that stratum"
    )
    targeted: list[TargetedRule] = Field(
        default=[
            TargetedRule(rule="low_csat"),
            TargetedRule(rule="sla_breached"),
            TargetedRule(rule="reopened"),
            TargetedRule(rule="long_resolution"),
        ]
    )
    seed: int = 1
    assignment: Literal["round_robin", "balanced"] = "balanced"
    auditors: list[str] = Field(default=[], description="auditors who receive the batch")

    @field_validator("strata")
    @classmethod
    def _distinct_strata(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("strata must not repeat a column")
        return value


class PrecisionTarget(StrictModel):
    margin: float = Field(default=0.10, gt=0, lt=1, description="E: half-width of the confidence interval")
    confidence: float = Field(default=0.95, gt=0, lt=1)
    expected_rate: float = Field(default=0.5, gt=0, lt=1, description="p; 0.5 is the most cautious")


def _default_scorecards() -> list[Scorecard]:
    from audits.defaults import DEFAULT_SCORECARD

    return [DEFAULT_SCORECARD]


def _default_checks() -> list[ProtocolCheck]:
    from audits.defaults import DEFAULT_CHECKS

    return list(DEFAULT_CHECKS)


class AuditsConfig(StrictModel):
    scorecards: list[Scorecard] = Field(default_factory=_default_scorecards, min_length=1)
    default_scorecard: str = "service-principles"
    checks: list[ProtocolCheck] = Field(default_factory=_default_checks)
    default_language: str = Field(default="en", description="used when interactions carry no language column")
    first_response_target_minutes: float = Field(
        default=60.0,
        gt=0,
        description="first_response_breached falls back to this calendar-time target when no SLA column exists",
    )
    pass_mark: float = Field(default=0.8, gt=0, le=1, description="a review passes at or above this score")
    sampling: SamplingPlan = SamplingPlan()
    precision: PrecisionTarget = PrecisionTarget()
    calibration_alpha_threshold: float = Field(default=0.667, gt=0, le=1)

    @model_validator(mode="after")
    def _references_resolve(self) -> AuditsConfig:
        keys = [(card.id, card.version) for card in self.scorecards]
        duplicates = sorted({f"{i} v{v}" for i, v in keys if keys.count((i, v)) > 1})
        if duplicates:
            raise ValueError(f"scorecard versions defined twice: {', '.join(duplicates)}")
        if self.default_scorecard not in {card.id for card in self.scorecards}:
            raise ValueError(f"default_scorecard {self.default_scorecard!r} is not among the scorecards")
        names = [check.name for check in self.checks]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"check names used twice: {', '.join(repeated)}")
        item_ids = {item.id for item in self.current_scorecard().items}
        for check in self.checks:
            if check.item is not None and check.item not in item_ids:
                raise ValueError(
                    f"check {check.name!r} refers to item {check.item!r}, which scorecard "
                    f"{self.default_scorecard!r} does not have"
                )
        return self

    def current_scorecard(self) -> Scorecard:
        """The newest version of the default scorecard: what new reviews are scored on."""
        versions = [card for card in self.scorecards if card.id == self.default_scorecard]
        return max(versions, key=lambda card: card.version)

    def scorecard(self, scorecard_id: str, version: int) -> Scorecard:
        for card in self.scorecards:
            if card.id == scorecard_id and card.version == version:
                return card
        raise KeyError(f"no scorecard {scorecard_id!r} version {version} in the audits config")
