"""Protocol checks on comment text written by real helpdesks (the shared third-party exports)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest
from audit_frames import events_frame, interactions_frame

from audits.checks import run_checks
from audits.config import AuditsConfig, ProtocolCheck

pytestmark = pytest.mark.fixtures


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_zendesk_public_comments_are_checked_in_order(shared_fixtures: Path) -> None:
    lines = (
        (shared_fixtures / "zendesk" / "airbyte_d3v_expected_records_subset.jsonl").read_text().splitlines()
    )
    comments = [json.loads(line)["data"] for line in lines if json.loads(line)["stream"] == "ticket_comments"]
    assert comments, "the export holds ticket_comments"
    events = events_frame(
        [
            {
                "interaction_id": f"zendesk:{c['ticket_id']}",
                "at": _utc(c["created_at"]),
                "type": "agent_reply" if c["public"] else "internal_note",
                "author": str(c["author_id"]),
                "body": c["plain_body"],
            }
            for c in comments
        ]
    )
    ids = sorted(set(events["interaction_id"]))
    interactions = interactions_frame([{"interaction_id": i, "status": "solved"} for i in ids])
    config = AuditsConfig()
    thanks_anywhere = ProtocolCheck(name="thanks_anywhere", type="phrases", phrases={"en": ["thank you"]})
    closing = next(c for c in config.checks if c.name == "thanks_at_close")
    out = run_checks(interactions, events, config, [closing, thanks_anywhere]).sort("check")
    # The ticket's replies are "thank you !" and then "test message": thanks exist, but not at the close.
    assert out.select("check", "outcome", "evidence").rows() == [
        ("thanks_anywhere", "pass", "thank you !"),
        ("thanks_at_close", "fail", None),
    ]


def test_freshdesk_private_notes_never_count_as_replies(shared_fixtures: Path) -> None:
    conversations = json.loads(
        (shared_fixtures / "freshdesk" / "python-freshdesk_conversations.json").read_text()
    )
    events = events_frame(
        [
            {
                "interaction_id": f"freshdesk:{c['ticket_id']}",
                "at": _utc(c["created_at"]),
                "type": "internal_note"
                if c["private"]
                else ("customer_message" if c["incoming"] else "agent_reply"),
                "author": str(c["user_id"]),
                "body": c["body_text"],
            }
            for c in conversations
        ]
    )
    interactions = interactions_frame([{"interaction_id": "freshdesk:1", "status": "open"}])
    out = run_checks(interactions, events, AuditsConfig())
    assert set(out["outcome"]) <= {"pass", "fail", "not_applicable"}
    assert not out.filter(pl.col("evidence").is_not_null())["evidence"].str.contains("private").any()
    assert out.filter(pl.col("check") == "greeting")["outcome"].to_list() == ["fail"]
