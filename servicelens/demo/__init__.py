"""The demo organisation: a realistic multi-site service organisation with planted inconsistencies."""

from servicelens.demo.generate import demo_plan, generate_frames
from servicelens.demo.organisation import AGENTS, LOCATION_CALENDARS, LOCATIONS, TEAMS
from servicelens.demo.planted import PLANTED_FINDINGS, PlantedFinding
from servicelens.demo.transcripts import PROTOCOL_PHRASES
from servicelens.demo.write import DemoSummary, demo_connectors, generate_demo

__all__ = [
    "AGENTS",
    "LOCATIONS",
    "LOCATION_CALENDARS",
    "PLANTED_FINDINGS",
    "PROTOCOL_PHRASES",
    "TEAMS",
    "DemoSummary",
    "PlantedFinding",
    "demo_connectors",
    "demo_plan",
    "generate_demo",
    "generate_frames",
]
