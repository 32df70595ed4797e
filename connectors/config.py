"""Connector configuration: the ``connectors:`` list of the config file.

Each entry is one source, chosen by ``kind``. File kinds read a folder or glob of exports; API kinds pull
over HTTPS and name the environment variable that holds the token (the secret never sits in the file).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field, model_validator

from servicelens.model import INTERACTION_SCHEMA, Channel, Priority, Status
from servicelens.strict import StrictModel

_NAME_PATTERN = r"^[a-z0-9][a-z0-9_\-]*$"
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


def _zone_name(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/Paris)") from None
    return value


TimeZoneName = Annotated[str, AfterValidator(_zone_name)]


class Schedule(StrictModel):
    """How often a connector runs: exactly one of ``seconds``, ``minutes`` or ``cron``."""

    seconds: int | None = Field(default=None, ge=1, description="run every this many seconds")
    minutes: int | None = Field(default=None, ge=1, description="run every this many minutes")
    cron: str | None = Field(default=None, description="5-field crontab expression, e.g. `*/15 * * * *`")

    @model_validator(mode="after")
    def _exactly_one(self) -> Schedule:
        chosen = [key for key in ("seconds", "minutes", "cron") if getattr(self, key) is not None]
        if len(chosen) != 1:
            raise ValueError("give exactly one of seconds, minutes or cron")
        if self.cron is not None:
            from connectors.crontab import crontab_trigger

            try:
                crontab_trigger(self.cron)
            except ValueError as exc:
                raise ValueError(f"cron {self.cron!r} is not a valid crontab expression: {exc}") from None
        return self

    def interval_seconds(self) -> int | None:
        """The fixed interval, or None for cron schedules."""
        if self.seconds is not None:
            return self.seconds
        return None if self.minutes is None else self.minutes * 60


class ConnectorBase(StrictModel):
    name: str = Field(pattern=_NAME_PATTERN, description="unique connector name (lowercase, digits, _ or -)")
    source: str | None = Field(
        default=None,
        pattern=_NAME_PATTERN,
        description="value of `source` in interaction ids (`source:external_id`); defaults to the name",
    )
    schedule: Schedule | None = Field(default=None, description="when to run; empty = only on demand")
    lookback_minutes: int = Field(
        default=60, ge=0, description="re-read records updated this long before the last bookmark"
    )
    enabled: bool = True

    @property
    def source_name(self) -> str:
        return self.source or self.name


class FileConnector(ConnectorBase):
    path: str = Field(description="a folder (every file in it) or a file glob such as `exports/*.jsonl`")


class VendorMapping(StrictModel):
    """Overrides of the built-in vendor value maps, keyed by the vendor's value (case-insensitive)."""

    status_map: dict[str, Status] = Field(default_factory=dict)
    channel_map: dict[str, Channel] = Field(default_factory=dict)
    priority_map: dict[str, Priority] = Field(default_factory=dict)
    location_field: str | None = Field(
        default=None,
        description="custom field (id or name) holding the site; empty = the vendor's organisation/company",
    )


_QUESTION_KEY = r"^[A-Za-z0-9_\-]+$"


class ZendeskSurveyFields(StrictModel):
    """Ticket custom fields a survey integration writes its NPS and CES answers into."""

    nps_field: int | None = Field(
        default=None,
        ge=1,
        description="id of the ticket custom field holding the NPS answer (0-10); empty = no NPS",
    )
    ces_field: int | None = Field(
        default=None,
        ge=1,
        description="id of the ticket custom field holding the CES answer (1-7, 7 = very easy); empty = no CES",
    )

    @model_validator(mode="after")
    def _distinct_fields(self) -> ZendeskSurveyFields:
        if self.nps_field is not None and self.nps_field == self.ces_field:
            raise ValueError(f"nps_field and ces_field name the same custom field {self.nps_field}")
        return self


class FreshdeskSurveyQuestions(StrictModel):
    """Custom questions of a Freshdesk satisfaction survey that ask for NPS and CES."""

    nps_question: str | None = Field(
        default=None,
        pattern=_QUESTION_KEY,
        description="key in a rating's `ratings` holding the NPS answer (0-10), e.g. `question_2000000001`",
    )
    ces_question: str | None = Field(
        default=None,
        pattern=_QUESTION_KEY,
        description="key in a rating's `ratings` holding the CES answer (1-7, 7 = very easy)",
    )

    @model_validator(mode="after")
    def _distinct_questions(self) -> FreshdeskSurveyQuestions:
        if self.nps_question is not None and self.nps_question == self.ces_question:
            raise ValueError(f"nps_question and ces_question name the same question {self.nps_question!r}")
        if "default_question" in {self.nps_question, self.ces_question}:
            raise ValueError("default_question is the CSAT question; name a custom question (question_<id>)")
        return self

    @property
    def asks_survey_questions(self) -> bool:
        return self.nps_question is not None or self.ces_question is not None


class GenericFilesConfig(FileConnector):
    kind: Literal["generic_files"]


class ZendeskFilesConfig(ZendeskSurveyFields, FileConnector, VendorMapping):
    kind: Literal["zendesk_files"]
    csat_good: int = Field(default=5, ge=1, le=5, description="CSAT value for a `good` satisfaction rating")
    csat_bad: int = Field(default=1, ge=1, le=5, description="CSAT value for a `bad` satisfaction rating")
    deleted_tickets: Literal["closed", "reject"] = Field(
        default="closed", description="`closed`: keep deleted tickets as closed with tag `deleted`"
    )


class FreshdeskFilesConfig(FreshdeskSurveyQuestions, FileConnector, VendorMapping):
    kind: Literal["freshdesk_files"]
    time_zone: TimeZoneName = Field(
        default="UTC", description="time zone of naive timestamps in the CSV export"
    )


class ServicenowCsvConfig(FileConnector, VendorMapping):
    kind: Literal["servicenow_csv"]
    time_zone: TimeZoneName = Field(
        default="UTC", description="time zone the export's timestamps were written in"
    )
    day_first: bool = Field(default=True, description="dates are day/month/year (29/2/2016 01:16)")
    null_values: list[str] = Field(default_factory=lambda: ["?", ""])


class ZammadFilesConfig(FileConnector, VendorMapping):
    kind: Literal["zammad_files"]


class IntercomFilesConfig(FileConnector, VendorMapping):
    kind: Literal["intercom_files"]
    bot_replies_count_as_response: bool = Field(
        default=False, description="when false, bot comments are kept as internal notes, never as responses"
    )


_CANONICAL_FIELDS = set(INTERACTION_SCHEMA) - {"interaction_id", "source"}


def _known_fields(mapping: dict[str, str]) -> dict[str, str]:
    unknown = sorted(set(mapping) - _CANONICAL_FIELDS)
    if unknown:
        raise ValueError(f"unknown canonical field(s) {unknown}; known: {sorted(_CANONICAL_FIELDS)}")
    return mapping


class TabularFilesConfig(FileConnector):
    kind: Literal["tabular_files"]
    mapping: Annotated[dict[str, str], AfterValidator(_known_fields)] = Field(
        description="canonical field -> column header in the file"
    )
    value_maps: Annotated[dict[str, dict[str, str]], AfterValidator(_known_fields)] = Field(
        default_factory=dict, description="canonical field -> {value in the file: canonical value}"
    )
    timestamp_format: str | None = Field(
        default=None, description="strftime format of timestamps; empty = ISO 8601"
    )
    time_zone: TimeZoneName = Field(default="UTC", description="time zone of timestamps without an offset")
    sheet: str | None = Field(default=None, description="worksheet of .xlsx files; empty = the first")
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    tags_separator: str = Field(default="|", min_length=1)
    null_values: list[str] = Field(default_factory=lambda: [""])

    @model_validator(mode="after")
    def _required_columns(self) -> TabularFilesConfig:
        missing = [f for f in ("external_id", "created_at") if f not in self.mapping]
        if missing:
            raise ValueError(f"mapping must name a column for {missing}")
        return self


def _env_name(value: str) -> str:
    if not _ENV_NAME.match(value):
        raise ValueError(
            "must be the NAME of an environment variable (e.g. ZENDESK_TOKEN), never the token itself"
        )
    return value


class ApiConnector(ConnectorBase):
    base_url: str = Field(
        pattern=r"^https://", description="the account's API root, e.g. https://acme.zendesk.com"
    )
    token_env: Annotated[str, AfterValidator(_env_name)] = Field(
        description="name of the environment variable holding the API token"
    )
    page_size: int = Field(default=100, ge=1, le=1000)
    start_at: str | None = Field(
        default=None, description="ISO date of the first pull when no bookmark exists"
    )


class ZendeskApiConfig(ZendeskSurveyFields, ApiConnector, VendorMapping):
    kind: Literal["zendesk_api"]
    email: str = Field(description="the agent e-mail the API token belongs to (user `email/token`)")
    csat_good: int = Field(default=5, ge=1, le=5)
    csat_bad: int = Field(default=1, ge=1, le=5)
    deleted_tickets: Literal["closed", "reject"] = "closed"


class FreshdeskApiConfig(FreshdeskSurveyQuestions, ApiConnector, VendorMapping):
    kind: Literal["freshdesk_api"]
    page_size: int = Field(default=100, ge=1, le=100)  # Freshdesk serves at most 100 tickets a page


AnyConnector = (
    GenericFilesConfig
    | ZendeskFilesConfig
    | FreshdeskFilesConfig
    | ServicenowCsvConfig
    | ZammadFilesConfig
    | IntercomFilesConfig
    | TabularFilesConfig
    | ZendeskApiConfig
    | FreshdeskApiConfig
)
ConnectorConfig = Annotated[AnyConnector, Field(discriminator="kind")]


def _unique_names(connectors: list[AnyConnector]) -> list[AnyConnector]:
    seen: set[str] = set()
    for connector in connectors:
        if connector.name in seen:
            raise ValueError(f"connector name {connector.name!r} is used more than once")
        seen.add(connector.name)
    return connectors


# The root config's `connectors:` type: a list whose names are unique.
ConnectorList = Annotated[list[ConnectorConfig], AfterValidator(_unique_names)]
