"""A small audited organisation on a temp SQLite database, and helpers to drive the audit pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import streamlit as st
from streamlit.testing.v1 import AppTest

from audits.config import AuditsConfig, SamplingPlan
from audits.sampling import create_batch
from servicelens.model import EVENT_SCHEMA, INTERACTION_SCHEMA
from storage import audit_repo
from storage.db import make_engine, upgrade
from storage.repo import insert_events, read_interactions, upsert_interactions

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboard.py"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOSTILE_BODY = "<b>bold?</b> **not bold** <script>alert(1)</script>"
CARD = AuditsConfig().current_scorecard()


def organisation(count: int = 8) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``count`` resolved e-mails at two sites, each with a customer message and two agent replies."""
    rows: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for i in range(count):
        iid = f"demo:{i}"
        created = T0 + timedelta(hours=i)
        rows.append(
            {
                "interaction_id": iid,
                "source": "demo",
                "external_id": str(i),
                "channel": "email",
                "location": "Leeds" if i % 2 else "York",
                "team": "Returns",
                "agent": f"agent{i % 3}",
                "customer": f"cust{i}",
                "priority": "normal",
                "status": "solved",
                "subject": f"Parcel {i} missing",
                "created_at": created,
                "first_response_at": created + timedelta(minutes=20),
                "resolved_at": created + timedelta(hours=2),
                "closed_at": None,
                "updated_at": created + timedelta(hours=2),
                "reopens": 0,
                "csat": 4,
                "nps": None,
                "ces": None,
                "tags": [],
            }
        )
        for minutes, kind, author, body in (
            (0, "customer_message", "Amelia Stone", f"Where is parcel {i}? {HOSTILE_BODY}"),
            (1, "status_change", None, None),
            (20, "agent_reply", f"agent{i % 3}", "Hi Amelia, sorry for the delay. I will check the parcel."),
            (90, "internal_note", f"agent{i % 3}", "courier contacted"),
            (
                120,
                "agent_reply",
                f"agent{i % 3}",
                "I have fixed this: it arrives tomorrow. Thank you for contacting us.",
            ),
        ):
            events.append(
                {
                    "interaction_id": iid,
                    "at": created + timedelta(minutes=minutes),
                    "type": kind,
                    "status": "new" if kind == "status_change" else None,
                    "author": author,
                    "body": body,
                }
            )
    return pl.DataFrame(rows, schema=INTERACTION_SCHEMA), pl.DataFrame(events, schema=EVENT_SCHEMA)


def load_organisation(url: str, auditors: tuple[str, ...] = ("ines", "jon")) -> int:
    """Store the organisation and a first batch of two interactions per site; returns the batch id."""
    interactions, events = organisation()
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        upsert_interactions(conn, interactions)
        insert_events(conn, events)
    plan = SamplingPlan(strata=["location"], per_stratum=2, targeted=[], auditors=list(auditors), seed=1)
    batch = create_batch(read_interactions(engine), plan, T0 + timedelta(days=1))
    with engine.begin() as conn:
        batch_id = audit_repo.save_batch(conn, batch, created_by="lead", plan=plan)
    engine.dispose()
    return batch_id


def open_page(page: str, query: dict[str, str] | None = None) -> AppTest:
    """The dashboard on ``page``; cached data is dropped first, since tests also write behind the app's back."""
    st.cache_data.clear()
    app = AppTest.from_file(str(DASHBOARD), default_timeout=60)
    for key, value in (query or {}).items():
        app.query_params[key] = value
    app.run()
    app.switch_page(page).run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def rate_everything(app: AppTest, key: str, **overrides: int) -> None:
    """Choose a rating for every item of the form ``key`` (the top of the scale unless overridden)."""
    for item in CARD.items:
        app.radio(key=f"{key}:rate:{item.id}").set_value(overrides.get(item.id, item.scale.high))


def texts(app: AppTest) -> list[str]:
    return [t.value for t in app.text]


def markdown(app: AppTest) -> str:
    return "\n".join(m.value for m in app.markdown)
