"""The inconsistencies deliberately planted in the demo data, as data the product's tests can assert on.

docs/demo.md describes each one; the generator reads its effect sizes from here so the documentation,
the data and the tests cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PlantedFinding:
    key: str
    dimension: str  # "location" or "team": the column to group by to see it
    value: str  # the location or team that behaves differently
    metric: str  # what to measure
    effect: str  # what a correct analysis should show, in words
    factor: float  # the size of the effect inside the generator (meaning depends on the finding)


SLOW_FIRST_RESPONSE = PlantedFinding(
    key="slow_first_response",
    dimension="location",
    value="Manchester",
    metric="first reply time (business hours) on email, web and social",
    effect="median first reply time (business hours) about 3x that of the other sites; many more breaches",
    factor=3.5,
)
GREETING_SKIPPED = PlantedFinding(
    key="greeting_skipped",
    dimension="team",
    value="Returns & Refunds",
    metric="share of first replies that open with a greeting",
    effect="about 20% of first replies greet the customer, against about 90% elsewhere",
    factor=0.2,
)
CSAT_DRIFT = PlantedFinding(
    key="csat_drift",
    dimension="location",
    value="Melbourne",
    metric="mean CSAT per week over the last quarter (91 days before the end)",
    effect="CSAT falls steadily through the last quarter, ending about 1.6 points lower than before",
    factor=1.6,
)
UNDER_ESCALATION = PlantedFinding(
    key="under_escalation",
    dimension="team",
    value="Payments",
    metric="resolution time (business hours) of urgent e-mail, web and social interactions",
    effect="the work on urgent interactions takes 10x longer; their median resolution time is about 3.5x that of "
    "urgent interactions in any other team",
    factor=10.0,
)
FREQUENT_REOPENS = PlantedFinding(
    key="frequent_reopens",
    dimension="location",
    value="Chicago",
    metric="share of interactions reopened at least once",
    effect="about 3x the reopen rate of the other sites",
    factor=3.0,
)

PLANTED_FINDINGS: tuple[PlantedFinding, ...] = (
    SLOW_FIRST_RESPONSE,
    GREETING_SKIPPED,
    CSAT_DRIFT,
    UNDER_ESCALATION,
    FREQUENT_REOPENS,
)

# How long before the end the CSAT drift starts.
CSAT_DRIFT_DAYS = 91
