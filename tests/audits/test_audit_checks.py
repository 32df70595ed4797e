"""Automatic protocol checks on written transcripts: outcomes, evidence, conditions, languages, errors."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest
from audit_frames import T0, events_frame, interactions_frame, transcript

from audits.check_registry import CHECK_TYPES, phrase_regex, register_check_type
from audits.checks import check_summary, guess_first_name, run_checks
from audits.config import AuditsConfig, ProtocolCheck

CONFIG = AuditsConfig()


def interaction(iid: str, **fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "interaction_id": iid,
        "team": "Store support",
        "customer": "cust-1",
        "status": "solved",
        "created_at": T0,
        "first_response_at": T0 + timedelta(minutes=5),
        "updated_at": T0 + timedelta(hours=5),
    }
    return {**base, **fields}


def result(results: pl.DataFrame, iid: str, check: str) -> dict[str, object]:
    rows = results.filter((pl.col("interaction_id") == iid) & (pl.col("check") == check))
    assert rows.height == 1, rows
    return rows.row(0, named=True)


@pytest.fixture
def results() -> pl.DataFrame:
    interactions = interactions_frame(
        [
            interaction(
                "demo:good", customer="anna.berg@example.com", first_response_at=T0 + timedelta(hours=3)
            ),
            interaction("demo:terse", team="Returns desk", customer="cust-77"),
            interaction("demo:late-greeting", customer="Omar Haddad"),
            interaction("demo:silent", status="open"),
        ]
    )
    events = events_frame(
        transcript(
            "demo:good",
            ("customer", "Anna Berg", "My order never arrived and nobody answers!"),
            ("agent", "Sam", "Hi Anna, sorry for the delay. I understand how frustrating this must be."),
            ("customer", "Anna Berg", "So where is it?"),
            (
                "agent",
                "Sam",
                "I have issued a refund to your card. I will follow up with you by Friday.\n"
                "Thank you for contacting us!",
            ),
        )
        + transcript(
            "demo:terse",
            ("customer", "cust-77", "Broken blender"),
            ("note", "Kim", "Hello team, check stock"),
            ("agent", "Kim", "Your replacement has been dispatched."),
            ("agent", "Kim", "Regards, Kim"),
        )
        + transcript(
            "demo:late-greeting",
            ("customer", "Omar Haddad", "Where is this parcel?"),
            ("agent", "Lea", "This is being checked."),
            ("agent", "Lea", "Good morning Omar. Many thanks for waiting."),
        )
        + transcript("demo:silent", ("customer", "x", "Hello?"))
    )
    return run_checks(interactions, events, CONFIG)


def test_a_model_transcript_passes_every_check_with_its_sentence_as_evidence(results: pl.DataFrame) -> None:
    expected = {
        "greeting": ("Hi Anna, sorry for the delay.", 0),
        "customer_name": ("Hi Anna, sorry for the delay.", 0),
        "empathy": ("I understand how frustrating this must be.", 0),
        "apology_for_delay": ("Hi Anna, sorry for the delay.", 0),
        "solution_offered": ("I have issued a refund to your card.", 1),
        "follow_up_promised": ("I will follow up with you by Friday.", 1),
        "thanks_at_close": ("Thank you for contacting us!", 1),
    }
    for check, (evidence, message_index) in expected.items():
        row = result(results, "demo:good", check)
        assert (row["outcome"], row["evidence"], row["message_index"]) == ("pass", evidence, message_index), (
            row
        )
        assert row["value"] >= 1


def test_a_terse_transcript_fails_greeting_thanks_and_solution_without_evidence(
    results: pl.DataFrame,
) -> None:
    greeting = result(results, "demo:terse", "greeting")
    assert (greeting["outcome"], greeting["evidence"], greeting["value"]) == ("fail", None, 0)
    assert greeting["target"] == "one of the phrases appears in the first agent message"
    assert result(results, "demo:terse", "thanks_at_close")["outcome"] == "fail"
    assert result(results, "demo:terse", "solution_offered")["outcome"] == "fail"


def test_internal_notes_are_not_part_of_the_transcript(results: pl.DataFrame) -> None:
    # "Hello team" was an internal note; it must not count as greeting the customer.
    assert result(results, "demo:terse", "greeting")["outcome"] == "fail"


def test_apology_is_only_required_when_the_first_response_breached(results: pl.DataFrame) -> None:
    row = result(results, "demo:terse", "apology_for_delay")
    assert row["outcome"] == "not_applicable"
    assert row["diagnostics"] == "condition first_response_breached does not hold"
    assert row["target"].endswith("(when first_response_breached)")


def test_position_first_ignores_a_greeting_in_a_later_message(results: pl.DataFrame) -> None:
    assert result(results, "demo:late-greeting", "greeting")["outcome"] == "fail"
    thanks = result(results, "demo:late-greeting", "thanks_at_close")
    assert (thanks["outcome"], thanks["evidence"]) == ("pass", "Many thanks for waiting.")
    name = result(results, "demo:late-greeting", "customer_name")
    assert (name["outcome"], name["evidence"], name["message_index"]) == ("pass", "Good morning Omar.", 1)


def test_unknown_customer_name_and_missing_replies_are_not_applicable(results: pl.DataFrame) -> None:
    name = result(results, "demo:terse", "customer_name")
    assert (name["outcome"], name["diagnostics"]) == ("not_applicable", "the customer's name is unknown")
    silent = results.filter(pl.col("interaction_id") == "demo:silent")
    assert silent["outcome"].unique().to_list() == ["not_applicable"]
    assert silent["diagnostics"].unique().to_list() == ["no agent reply in the transcript"]


def test_one_row_per_interaction_and_check(results: pl.DataFrame) -> None:
    assert results.height == 4 * len(CONFIG.checks)
    assert results.select("interaction_id", "check").is_unique().all()
    assert set(results["outcome"]) <= {"pass", "fail", "not_applicable"}


def test_sla_engine_verdict_overrides_the_calendar_estimate() -> None:
    interactions = interactions_frame(
        [interaction("demo:1"), interaction("demo:2")], extra={"first_response_breached": pl.Boolean()}
    ).with_columns(first_response_breached=pl.Series([True, None]))
    events = events_frame(
        transcript("demo:1", ("agent", "Sam", "Hello, your refund is done."))
        + transcript("demo:2", ("agent", "Sam", "Hello, your refund is done."))
    )
    out = run_checks(
        interactions, events, CONFIG, [c for c in CONFIG.checks if c.name == "apology_for_delay"]
    )
    assert out["outcome"].to_list() == ["fail", "not_applicable"]


def test_phrases_follow_the_transcript_language() -> None:
    interactions = interactions_frame(
        [interaction("demo:de"), interaction("demo:pt"), interaction("demo:en")],
        extra={"language": pl.String()},
    ).with_columns(language=pl.Series(["de", "pt", None]))
    events = events_frame(
        transcript("demo:de", ("agent", "Jo", "Guten Tag Frau Berg, danke für Ihre Nachricht."))
        + transcript("demo:pt", ("agent", "Jo", "Olá Ana, obrigado."))
        + transcript("demo:en", ("agent", "Jo", "Guten Tag."))
    )
    greeting = [c for c in CONFIG.checks if c.name == "greeting"]
    out = run_checks(interactions, events, CONFIG, greeting).sort("interaction_id")
    assert out["outcome"].to_list() == ["pass", "fail", "not_applicable"]  # de, en (default), pt
    assert out["evidence"][0] == "Guten Tag Frau Berg, danke für Ihre Nachricht."
    assert out["diagnostics"][2] == "no phrases for the transcript's language"


def test_phrases_match_whole_words_only() -> None:
    interactions = interactions_frame([interaction("demo:1"), interaction("demo:2")])
    events = events_frame(
        transcript("demo:1", ("agent", "Jo", "This hint should help. Many Thanksgiving hours apply."))
        + transcript("demo:2", ("agent", "Jo", "HELLO there! Many   thanks."))
    )
    checks = [c for c in CONFIG.checks if c.name in {"greeting", "thanks_at_close"}]
    out = run_checks(interactions, events, CONFIG, checks).sort("interaction_id", "check")
    assert out["outcome"].to_list() == ["fail", "fail", "pass", "pass"]
    assert out["evidence"].to_list()[2:] == ["HELLO there!", "Many   thanks."]
    assert phrase_regex("a.b (c)") == r"\ba\.b\s+\(c\)"


def test_forbidden_words_fail_with_the_offending_sentence_as_evidence() -> None:
    jargon = ProtocolCheck(
        name="no_jargon",
        type="regex",
        item="clear_communication",
        expect="absent",
        patterns={"en": [r"\b(SKU|RMA|L2)\b"]},
    )
    interactions = interactions_frame([interaction("demo:1"), interaction("demo:2")])
    events = events_frame(
        transcript("demo:1", ("agent", "Jo", "Hi! I raised an RMA for the SKU. Thanks."))
        + transcript("demo:2", ("agent", "Jo", "Hi! I have started your return. Thanks."))
    )
    out = run_checks(interactions, events, CONFIG, [jargon]).sort("interaction_id")
    assert out["outcome"].to_list() == ["fail", "pass"]
    assert out["evidence"].to_list() == ["I raised an RMA for the SKU.", None]
    assert out["target"][0] == "not: one of the patterns matches in an agent message"


def test_a_broken_check_reports_error_rows_and_the_others_still_run() -> None:
    needs_csat = ProtocolCheck(name="csat_gate", type="phrases", when=["low_csat"], phrases={"en": ["sorry"]})
    interactions = interactions_frame([interaction("demo:1")]).drop("csat")
    events = events_frame(transcript("demo:1", ("agent", "Jo", "Hello, sorry.")))
    greeting = next(c for c in CONFIG.checks if c.name == "greeting")
    out = run_checks(interactions, events, CONFIG, [needs_csat, greeting])
    broken = out.row(0, named=True)
    assert broken["outcome"] == "error"
    assert broken["diagnostics"].startswith("not evaluated: ColumnNotFoundError")
    assert out["outcome"][1] == "pass"


def test_check_types_are_registered_by_name() -> None:
    @register_check_type("order_number_quoted", target="an order number is quoted", not_applicable="never")
    def _order_number(check: ProtocolCheck) -> pl.Expr:
        return pl.col("sentence").str.contains(r"#\d{6}")

    try:
        check = ProtocolCheck(name="order_ref", type="order_number_quoted")
        interactions = interactions_frame([interaction("demo:1")])
        events = events_frame(transcript("demo:1", ("agent", "Jo", "Hi. Order #123456 ships today.")))
        row = run_checks(interactions, events, CONFIG, [check]).row(0, named=True)
        assert (row["outcome"], row["evidence"]) == ("pass", "Order #123456 ships today.")
        with pytest.raises(ValueError, match="already registered"):
            register_check_type("order_number_quoted", target="x", not_applicable="x")(_order_number)
    finally:
        CHECK_TYPES.pop("order_number_quoted")


def test_a_team_that_skips_greetings_stands_out_in_the_summary(results: pl.DataFrame) -> None:
    teams = pl.DataFrame(
        {"interaction_id": ["demo:good", "demo:terse"], "team": ["Store support", "Returns desk"]}
    )
    summary = check_summary(results.join(teams, on="interaction_id"), by=["team"]).filter(
        pl.col("check") == "greeting"
    )
    assert dict(zip(summary["team"], summary["pass_rate"], strict=True)) == {
        "Returns desk": 0.0,
        "Store support": 1.0,
    }


@pytest.mark.parametrize(
    ("author", "name"),
    [("anna.berg@example.com", "Anna"), ("Omar Haddad", "Omar"), ("cust-77", None), ("12345", None), (None, None),
     ("zoë_m@example.org", "Zoë"), ("J", None)],
)  # fmt: skip
def test_first_names_are_guessed_only_from_name_like_authors(author: str | None, name: str | None) -> None:
    assert guess_first_name(author) == name


def test_results_follow_the_order_of_the_interactions() -> None:
    ids = [f"demo:{n}" for n in sorted(range(300), key=lambda n: (n * 7919) % 300)]
    interactions = interactions_frame([interaction(i) for i in ids])
    events = events_frame(
        [row for i in ids[::2] for row in transcript(i, ("agent", "Sam", "Hello, your refund is done."))]
    )
    out = run_checks(interactions, events, CONFIG)
    for check in CONFIG.checks:
        assert out.filter(pl.col("check") == check.name)["interaction_id"].to_list() == ids
