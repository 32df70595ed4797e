"""SLA configuration: calendars, policies and per-metric targets, validated as data.

An empty ``sla:`` section is valid: it gives one 24/7 calendar and a fallback policy with calendar-time
targets for first response, next response and resolution.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from pydantic import Field, field_validator, model_validator

from servicelens.model import Priority, Status
from servicelens.strict import StrictModel


class Metric(StrEnum):
    FIRST_RESPONSE = "first_response"
    NEXT_RESPONSE = "next_response"
    PERIODIC_UPDATE = "periodic_update"
    RESOLUTION = "resolution"
    REQUESTER_WAIT = "requester_wait"
    AGENT_WORK = "agent_work"


class Weekday(StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"


WEEKDAY_INDEX = {day: index for index, day in enumerate(Weekday)}  # Monday = 0, as date.weekday()

# Statuses that stop a metric's clock unless a policy says otherwise. requester_wait and agent_work are defined
# by the statuses they count, so their pause sets are the complement of those.
DEFAULT_PAUSES: dict[Metric, tuple[Status, ...]] = {
    Metric.FIRST_RESPONSE: (),
    Metric.NEXT_RESPONSE: (),
    Metric.PERIODIC_UPDATE: (Status.PENDING, Status.SOLVED, Status.CLOSED),
    Metric.RESOLUTION: (Status.PENDING,),
    Metric.REQUESTER_WAIT: (Status.PENDING, Status.SOLVED, Status.CLOSED),
    Metric.AGENT_WORK: (Status.PENDING, Status.ON_HOLD, Status.SOLVED, Status.CLOSED),
}

_HOURS_PATTERN = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")
DEFAULT_CALENDAR = "24x7"
DEFAULT_TARGET_KEY = "default"


def parse_hours(text: str) -> tuple[int, int]:
    """``"09:00-17:30"`` -> minutes from local midnight (540, 1050). An end at or before the start crosses
    midnight (``"22:00-06:00"`` -> (1320, 1800)); ``"00:00-24:00"`` is a whole day."""
    match = _HOURS_PATTERN.match(text.strip())
    if not match:
        raise ValueError(f"opening hours {text!r} must look like 09:00-17:00")
    sh, sm, eh, em = (int(g) for g in match.groups())
    if sh > 23 or sm > 59 or em > 59 or eh > 24 or (eh == 24 and em):
        raise ValueError(f"opening hours {text!r} hold an impossible time")
    start, end = sh * 60 + sm, eh * 60 + em
    if end <= start:
        end += 24 * 60  # a shift that crosses midnight ends on the next day
    return start, end


class HolidaySource(StrictModel):
    country: str = Field(description="ISO 3166 country code understood by the `holidays` package, e.g. GB")
    subdivision: str | None = Field(default=None, description="state / region code, e.g. ENG, BY, NY")

    @model_validator(mode="after")
    def _known(self) -> HolidaySource:
        try:
            holidays.country_holidays(self.country, subdiv=self.subdivision, years=2024)
        except (NotImplementedError, KeyError) as exc:
            raise ValueError(
                f"holidays has no calendar for {self.country}/{self.subdivision}: {exc}"
            ) from None
        return self


class CalendarException(StrictModel):
    """One date with special opening hours (an empty list closes the whole day)."""

    date: date
    hours: list[str] = Field(default_factory=list)

    @field_validator("hours")
    @classmethod
    def _valid_hours(cls, value: list[str]) -> list[str]:
        for text in value:
            parse_hours(text)
        return value


class CalendarConfig(StrictModel):
    timezone: str = Field(default="UTC", description="IANA time zone of the opening hours")
    always_open: bool = Field(default=False, description="24/7: every minute is business time")
    hours: dict[Weekday, list[str]] = Field(default_factory=dict, description="weekly opening hours per day")
    holidays: list[HolidaySource] = Field(default_factory=list, description="public holidays: closed all day")
    closed_dates: list[date] = Field(default_factory=list, description="further dates closed all day")
    exceptions: list[CalendarException] = Field(default_factory=list, description="dates with special hours")

    @field_validator("timezone")
    @classmethod
    def _valid_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r}") from None
        return value

    @field_validator("hours")
    @classmethod
    def _valid_hours(cls, value: dict[Weekday, list[str]]) -> dict[Weekday, list[str]]:
        for texts in value.values():
            for text in texts:
                parse_hours(text)
        return value

    @model_validator(mode="after")
    def _some_hours(self) -> CalendarConfig:
        if not self.always_open and not any(self.hours.values()):
            raise ValueError("a calendar needs weekly `hours` or `always_open: true`")
        return self

    def weekly_minutes(self) -> dict[int, list[tuple[int, int]]]:
        """Opening intervals per weekday index (Monday 0), in minutes from that day's local midnight."""
        if self.always_open:
            return {day: [(0, 24 * 60)] for day in range(7)}
        return {
            WEEKDAY_INDEX[day]: sorted(parse_hours(t) for t in texts) for day, texts in self.hours.items()
        }


class MetricTargets(StrictModel):
    """How one metric is measured under a policy, and its target per priority (minutes)."""

    targets: dict[str, float] = Field(
        default_factory=dict,
        description="minutes per priority (urgent/high/normal/low); `default` covers the rest and no priority",
    )
    business_hours: bool = Field(default=True, description="count business minutes of the calendar, else all")
    calendar: str | None = Field(default=None, description="calendar for this metric; else the policy's")
    pause_statuses: list[Status] | None = Field(default=None, description="statuses that stop this clock")
    warn_at: list[float] = Field(
        default=[50.0, 75.0, 90.0], description="percent of target: at_risk from here"
    )

    @field_validator("targets")
    @classmethod
    def _valid_targets(cls, value: dict[str, float]) -> dict[str, float]:
        allowed = {p.value for p in Priority} | {DEFAULT_TARGET_KEY}
        for key, minutes in value.items():
            if key not in allowed:
                raise ValueError(f"target key {key!r} is not one of {sorted(allowed)}")
            if minutes <= 0:
                raise ValueError(f"target for {key!r} must be more than 0 minutes")
        return value

    @field_validator("warn_at")
    @classmethod
    def _valid_warnings(cls, value: list[float]) -> list[float]:
        if any(not 0 < percent < 100 for percent in value):
            raise ValueError("warning thresholds are percentages between 0 and 100")
        return sorted(value)

    def target_for(self, priority: str | None) -> float | None:
        if priority is not None and priority in self.targets:
            return self.targets[priority]
        return self.targets.get(DEFAULT_TARGET_KEY)


class PolicyConditions(StrictModel):
    """All given conditions must hold; each list matches when the value is one of its entries."""

    priority: list[Priority] = Field(default_factory=list)
    channel: list[str] = Field(default_factory=list)
    team: list[str] = Field(default_factory=list)
    location: list[str] = Field(default_factory=list)
    tags_any: list[str] = Field(default_factory=list, description="at least one of these tags")
    tags_all: list[str] = Field(default_factory=list, description="every one of these tags")


class SlaPolicy(StrictModel):
    name: str = Field(min_length=1)
    when: PolicyConditions = PolicyConditions()
    calendar: str | None = Field(
        default=None,
        description="calendar name; empty: the location's calendar, else the team's, else default",
    )
    metrics: dict[Metric, MetricTargets] = Field(default_factory=dict)


def _default_fallback() -> SlaPolicy:
    return SlaPolicy(
        name="default",
        metrics={
            Metric.FIRST_RESPONSE: MetricTargets(
                targets={"urgent": 60, "high": 240, "normal": 480, "low": 1440, DEFAULT_TARGET_KEY: 480}
            ),
            Metric.NEXT_RESPONSE: MetricTargets(
                targets={"urgent": 120, "high": 480, "normal": 960, "low": 2880, DEFAULT_TARGET_KEY: 960}
            ),
            Metric.RESOLUTION: MetricTargets(
                targets={"urgent": 480, "high": 1440, "normal": 4320, "low": 10080, DEFAULT_TARGET_KEY: 4320}
            ),
        },
    )


class SlaConfig(StrictModel):
    calendars: dict[str, CalendarConfig] = Field(
        default_factory=lambda: {DEFAULT_CALENDAR: CalendarConfig(always_open=True)}
    )
    default_calendar: str = DEFAULT_CALENDAR
    location_calendars: dict[str, str] = Field(default_factory=dict, description="location -> calendar name")
    team_calendars: dict[str, str] = Field(default_factory=dict, description="team -> calendar name")
    policies: list[SlaPolicy] = Field(default_factory=list, description="first match wins, in this order")
    fallback: SlaPolicy = Field(default_factory=_default_fallback, description="used when no policy matches")
    history_from: date = Field(default=date(2015, 1, 1), description="earliest date the calendars cover")
    horizon_days: int = Field(
        default=1100, ge=30, description="days after `now` the calendars cover (due times)"
    )

    @model_validator(mode="after")
    def _references(self) -> SlaConfig:
        if self.default_calendar not in self.calendars:
            raise ValueError(f"default_calendar {self.default_calendar!r} is not defined under calendars")
        problems: list[str] = []
        for where, mapping in (
            ("location_calendars", self.location_calendars),
            ("team_calendars", self.team_calendars),
        ):
            problems += [
                f"{where}.{key}: unknown calendar {name!r}"
                for key, name in mapping.items()
                if name not in self.calendars
            ]
        names: set[str] = set()
        for index, policy in enumerate([*self.policies, self.fallback]):
            where = f"policies[{index}]" if index < len(self.policies) else "fallback"
            if policy.name in names:
                problems.append(f"{where}.name: duplicate policy name {policy.name!r}")
            names.add(policy.name)
            if policy.calendar is not None and policy.calendar not in self.calendars:
                problems.append(f"{where}.calendar: unknown calendar {policy.calendar!r}")
            for metric, settings in policy.metrics.items():
                if settings.calendar is not None and settings.calendar not in self.calendars:
                    problems.append(
                        f"{where}.metrics.{metric}.calendar: unknown calendar {settings.calendar!r}"
                    )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def calendar_names(self) -> list[str]:
        """Stable order of calendars; an interaction's calendar is referred to by its index here."""
        return sorted(self.calendars)

    def all_policies(self) -> list[SlaPolicy]:
        return [*self.policies, self.fallback]
