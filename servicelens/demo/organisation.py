"""The fixed structure of the demo organisation: sites, teams, agents, channels, priorities.

Everything here is plain data so that the example config (SLA calendars per site), the generator and the
tests read the same facts. Opening hours are local wall-clock hours of the site's time zone.
"""

from __future__ import annotations

from dataclasses import dataclass

# Monday = 0 ... Sunday = 6, as in ``date.weekday()``.
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True)
class Location:
    name: str
    timezone: str  # IANA name
    country: str  # ISO 3166-1 alpha-2, as the `holidays` package expects
    subdivision: str | None  # ISO 3166-2 suffix for regional holidays
    helpdesk: str  # the helpdesk the site ran before the merger onto one reporting platform
    # Opening hours per weekday (local time, hours as floats); None means closed that day.
    hours: tuple[tuple[float, float] | None, ...]
    volume_share: float  # relative share of the organisation's contacts

    def opening_hours(self) -> dict[str, tuple[float, float] | None]:
        return dict(zip(WEEKDAYS, self.hours, strict=True))


_WEEK_8_18 = ((8.0, 18.0),) * 5 + (None, None)
_WEEK_8_20_SAT = ((8.0, 20.0),) * 5 + ((9.0, 17.0), None)
_WEEK_9_1730 = ((9.0, 17.5),) * 5 + (None, None)
_WEEK_9_18_SAT = ((9.0, 18.0),) * 5 + ((10.0, 14.0), None)

LOCATIONS: tuple[Location, ...] = (
    Location("London", "Europe/London", "GB", "ENG", "zendesk", _WEEK_8_20_SAT, 1.5),
    Location("Manchester", "Europe/London", "GB", "ENG", "zendesk", _WEEK_8_18, 1.0),
    Location("Edinburgh", "Europe/London", "GB", "SCT", "zendesk", _WEEK_8_18, 0.7),
    Location("Berlin", "Europe/Berlin", "DE", "BE", "freshdesk", _WEEK_8_18, 1.0),
    Location("Munich", "Europe/Berlin", "DE", "BY", "freshdesk", _WEEK_8_18, 0.8),
    Location("Paris", "Europe/Paris", "FR", None, "freshdesk", _WEEK_9_1730, 0.9),
    Location("New York", "America/New_York", "US", "NY", "zendesk", _WEEK_8_20_SAT, 1.4),
    Location("Boston", "America/New_York", "US", "MA", "zendesk", _WEEK_8_18, 0.7),
    Location("Chicago", "America/Chicago", "US", "IL", "zendesk", _WEEK_8_18, 1.0),
    Location("Denver", "America/Denver", "US", "CO", "zendesk", _WEEK_8_18, 0.6),
    Location("Mumbai", "Asia/Kolkata", "IN", "MH", "freshdesk", _WEEK_9_18_SAT, 1.2),
    Location("Sydney", "Australia/Sydney", "AU", "NSW", "freshdesk", _WEEK_8_18, 0.9),
    Location("Melbourne", "Australia/Melbourne", "AU", "VIC", "freshdesk", _WEEK_8_18, 0.8),
)

LOCATION_NAMES: tuple[str, ...] = tuple(loc.name for loc in LOCATIONS)

# The mapping the SLA calendars of the example config are written from.
LOCATION_CALENDARS: dict[str, dict[str, str | None]] = {
    loc.name: {"timezone": loc.timezone, "country": loc.country, "subdivision": loc.subdivision}
    for loc in LOCATIONS
}

TEAMS: tuple[str, ...] = (
    "Orders",
    "Deliveries",
    "Returns & Refunds",
    "Billing",
    "Payments",
    "Accounts",
    "Technical Support",
    "Loyalty Programme",
    "Bookings",
    "Complaints",
    "Store Services",
    "Warranty & Repairs",
    "Business Customers",
    "Onboarding",
    "Card Services",
)

# Subjects a customer writes, per team (same order as TEAMS).
TEAM_SUBJECTS: tuple[tuple[str, ...], ...] = (
    ("Where is my order?", "Order shows the wrong item", "Can I change my order?"),
    ("Parcel not delivered", "Delivery slot missed", "Courier left parcel outside"),
    ("Refund not received", "How do I return this?", "Return label does not work"),
    ("Charged twice", "Invoice is wrong", "Question about my bill"),
    ("Payment declined", "Direct debit failed", "Cannot add a new card"),
    ("Cannot log in", "Change my e-mail address", "Close my account"),
    ("App keeps crashing", "Error message on checkout", "Password reset e-mail missing"),
    ("Points missing from my account", "Voucher code rejected", "Loyalty tier wrong"),
    ("Change my booking", "Booking confirmation missing", "Cancel my reservation"),
    ("Formal complaint", "Unhappy with the service", "Staff were rude"),
    ("Store opening hours", "Click and collect not ready", "Item out of stock in store"),
    ("Product stopped working", "Repair taking too long", "Warranty claim"),
    ("Bulk order quote", "Business account invoice", "VAT receipt needed"),
    ("New account setup", "Verification documents", "Welcome pack not received"),
    ("Card lost or stolen", "Card not arrived", "Card blocked abroad"),
)

CHANNEL_MIX: dict[str, float] = {"email": 0.34, "chat": 0.26, "phone": 0.2, "web": 0.12, "social": 0.08}
LIVE_CHANNELS: frozenset[str] = frozenset({"chat", "phone"})
PRIORITY_MIX: dict[str, float] = {"urgent": 0.05, "high": 0.17, "normal": 0.58, "low": 0.2}

AGENT_COUNT = 150
_AGENT_FIRST = (
    "Aisha", "Ben", "Chloe", "Daniel", "Elena", "Farid", "Grace", "Hugo", "Isla", "Jonas",
    "Kavya", "Liam", "Maya", "Noah", "Olivia", "Pierre", "Quinn", "Rosa", "Sami", "Tara",
    "Umar", "Vera", "Wei", "Ximena", "Yusuf", "Zoe", "Arjun", "Bianca", "Callum", "Dana",
)  # fmt: skip
_AGENT_LAST = (
    "Adams", "Becker", "Chen", "Dubois", "Evans", "Fischer", "Garcia", "Hughes", "Iyer", "Jensen",
    "Kelly", "Lopez", "Martin", "Nguyen", "OBrien", "Patel", "Quinn", "Rossi", "Schmidt", "Taylor",
    "Usman", "Varga", "Walsh", "Young", "Zimmer",
)  # fmt: skip


@dataclass(frozen=True)
class Agent:
    name: str
    team: str
    location: str


def _build_agents() -> tuple[Agent, ...]:
    """150 unique agents; each team spans about ten sites and each site hosts about twelve teams.

    The spread matters: a planted team effect must not be explained by a site, and vice versa.
    (i mod 30, 7i mod 25) is unique for i < lcm(30, 25) = 150, so names never collide.
    """
    agents = []
    for i in range(AGENT_COUNT):
        name = f"{_AGENT_FIRST[i % len(_AGENT_FIRST)]} {_AGENT_LAST[(7 * i) % len(_AGENT_LAST)]}"
        team = TEAMS[i // (AGENT_COUNT // len(TEAMS))]
        location = LOCATIONS[i % len(LOCATIONS)].name
        agents.append(Agent(name, team, location))
    return tuple(agents)


AGENTS: tuple[Agent, ...] = _build_agents()

CUSTOMER_FIRST_NAMES = (
    "Amelia", "Oliver", "Sofia", "Lucas", "Hannah", "Mateo", "Priya", "Ethan", "Lea", "Jack",
    "Mia", "Leon", "Emma", "Rahul", "Chloe", "James", "Anika", "Louis", "Ava", "Finn",
    "Zara", "Max", "Ines", "Ryan", "Nora", "Omar", "Julia", "Ravi", "Emily", "Tom",
)  # fmt: skip
CUSTOMER_LAST_NAMES = (
    "Smith", "Mueller", "Bernard", "Johnson", "Sharma", "Brown", "Wilson", "Moreau", "Wagner", "Davis",
    "Singh", "Thompson", "Lee", "Clarke", "Weber", "Roux", "Walker", "Kumar", "White", "Hall",
)  # fmt: skip
