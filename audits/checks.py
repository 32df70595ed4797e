"""Run the configured protocol checks on every transcript.

Transcripts are the ``customer_message`` / ``agent_reply`` events of the canonical model, ordered by ``at``.
Agent replies are split into sentences; each check's matcher (``audits.check_registry``) marks the
sentences that match, restricted to the first, last or any agent message. Every check returns one row per
interaction in one shape:

=================  =====================================================================================
``outcome``        ``pass``, ``fail``, ``not_applicable`` or ``error`` (the check could not be evaluated)
``value``          how many sentences matched in the searched messages
``target``         what passing means, e.g. "one of the phrases appears in the first agent message"
``evidence``       the first matching sentence (for an ``absent`` check: the offending sentence)
``message_index``  0-based index of the agent message holding the evidence
``diagnostics``    why the outcome is what it is (condition not met, no phrases for a language, an error)
=================  =====================================================================================

A check that fails to evaluate yields ``error`` rows with the message; the other checks still run.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import polars as pl

from audits.check_registry import CHECK_TYPES, CONDITIONS
from audits.config import AuditsConfig, ProtocolCheck
from servicelens.model import EventType

OUTCOMES = ("pass", "fail", "not_applicable", "error")

RESULT_SCHEMA: dict[str, pl.DataType] = {
    "interaction_id": pl.String(),
    "check": pl.String(),
    "item": pl.String(),
    "outcome": pl.String(),
    "value": pl.Int64(),
    "target": pl.String(),
    "evidence": pl.String(),
    "message_index": pl.Int64(),
    "diagnostics": pl.String(),
}

# A sentence ends at . ! ? or a line break; the terminator stays with the sentence.
SENTENCE_PATTERN = r"[^.!?\n]+[.!?]*"
_POSITION_TEXT = {
    "any": "an agent message",
    "first": "the first agent message",
    "last": "the last agent message",
}
_NAME_TOKEN = re.compile(r"^[^\W\d_][^\W\d_'\-]*$")


def guess_first_name(author: str | None) -> str | None:
    """A first name from a display name or e-mail address; None for ids and anything unlike a name.

    >>> guess_first_name("anna.berg@example.com"), guess_first_name("Omar Haddad"), guess_first_name("cust-42")
    ('Anna', 'Omar', None)
    """
    if author is None or not author.strip():
        return None
    text = author.strip()
    if "@" in text:
        text = re.split(r"[._+\-]", text.split("@", 1)[0])[0]
    first = text.split()[0].strip(",")
    if len(first) < 2 or not _NAME_TOKEN.match(first):
        return None
    return first[:1].upper() + first[1:]


def customer_names(interactions: pl.DataFrame, events: pl.DataFrame) -> pl.DataFrame:
    """``interaction_id, customer_name``: a ``customer_name`` column when given, else the author of the
    first customer message, else the interaction's ``customer`` field."""
    if "customer_name" in interactions.columns:
        return interactions.select("interaction_id", pl.col("customer_name").cast(pl.String))
    first_authors = (
        events.filter(pl.col("type") == EventType.CUSTOMER_MESSAGE.value)
        .sort("interaction_id", "at")
        .group_by("interaction_id", maintain_order=True)
        .agg(pl.col("author").drop_nulls().first().alias("first_author"))
    )
    frame = interactions.select("interaction_id", "customer").join(
        first_authors, on="interaction_id", how="left", maintain_order="left"
    )
    names = [
        guess_first_name(author) or guess_first_name(customer)
        for author, customer in zip(frame["first_author"], frame["customer"], strict=True)
    ]
    return frame.select("interaction_id").with_columns(pl.Series("customer_name", names, dtype=pl.String))


def agent_sentences(events: pl.DataFrame) -> pl.DataFrame:
    """One row per sentence of every agent reply, with the message's position in the transcript."""
    replies = (
        events.lazy()
        .filter(pl.col("type") == EventType.AGENT_REPLY.value)
        .sort("interaction_id", "at")
        .with_columns(message_index=pl.int_range(pl.len()).over("interaction_id"))
        .with_columns(
            is_first=pl.col("message_index") == 0,
            is_last=pl.col("message_index") == pl.col("message_index").max().over("interaction_id"),
            sentence=pl.col("body").fill_null("").str.extract_all(SENTENCE_PATTERN),
        )
    )
    return (
        replies.explode("sentence")
        .with_columns(pl.col("sentence").str.strip_chars())
        .filter(pl.col("sentence").is_not_null() & (pl.col("sentence") != ""))
        .select("interaction_id", pl.col("message_index").cast(pl.Int64), "is_first", "is_last", "sentence")
        .collect()
        .with_row_index("sentence_order")
    )


def _interaction_context(
    interactions: pl.DataFrame, events: pl.DataFrame, default_language: str
) -> pl.DataFrame:
    language = (
        pl.col("language").fill_null(default_language)
        if "language" in interactions.columns
        else pl.lit(default_language)
    )
    replies = (
        events.filter(pl.col("type") == EventType.AGENT_REPLY.value)
        .group_by("interaction_id")
        .agg(pl.len().cast(pl.Int64).alias("agent_messages"))
    )
    return (
        interactions.with_columns(language.alias("language"))
        # Results keep the interactions' order: polars joins do not, unless asked.
        .join(customer_names(interactions, events), on="interaction_id", how="left", maintain_order="left")
        .join(replies, on="interaction_id", how="left", maintain_order="left")
        .with_columns(pl.col("agent_messages").fill_null(0))
    )


def _target_text(check: ProtocolCheck) -> str:
    what = CHECK_TYPES[check.type].target
    if check.expect == "absent":
        what = f"not: {what}"
    where = _POSITION_TEXT[check.position]
    when = f" (when {' and '.join(check.when)})" if check.when else ""
    return f"{what} in {where}{when}"


def _evaluate(
    check: ProtocolCheck, context: pl.DataFrame, sentences: pl.DataFrame, config: AuditsConfig
) -> pl.DataFrame:
    check_type = CHECK_TYPES[check.type]
    scope = {"any": pl.lit(True), "first": pl.col("is_first"), "last": pl.col("is_last")}[check.position]
    matched = (
        sentences.lazy()
        .filter(scope)
        .join(context.lazy().select("interaction_id", "language", "customer_name"), on="interaction_id")
        .with_columns(hit=check_type.matcher(check))
        .sort("sentence_order")  # groups keep input order, so "first" below is the earliest sentence
        .group_by("interaction_id")
        .agg(
            judged=pl.col("hit").is_not_null().any(),
            value=pl.col("hit").fill_null(False).sum().cast(pl.Int64),
            evidence=pl.col("sentence").filter(pl.col("hit").fill_null(False)).first(),
            message_index=pl.col("message_index").filter(pl.col("hit").fill_null(False)).first(),
        )
    )
    applies = pl.lit(True)
    unmet = pl.lit(None, dtype=pl.String)
    for name in reversed(check.when):
        holds = CONDITIONS[name].build(context.schema, config.first_response_target_minutes)
        applies = applies & holds
        unmet = pl.when(~holds).then(pl.lit(f"condition {name} does not hold")).otherwise(unmet)
    searched = (
        pl.format("searched {} agent message(s)", pl.col("agent_messages"))
        if check.position == "any"
        else pl.lit(f"searched {_POSITION_TEXT[check.position]}")
    )
    found = pl.col("value") > 0
    passed = found if check.expect == "present" else ~found
    show_evidence = found if check.expect == "present" else ~passed
    outcome = (
        pl.when(pl.col("agent_messages") == 0)
        .then(pl.lit("not_applicable"))
        .when(~applies)
        .then(pl.lit("not_applicable"))
        .when(~pl.col("judged").fill_null(False))
        .then(pl.lit("not_applicable"))
        .when(passed)
        .then(pl.lit("pass"))
        .otherwise(pl.lit("fail"))
    )
    diagnostics = (
        pl.when(pl.col("agent_messages") == 0)
        .then(pl.lit("no agent reply in the transcript"))
        .when(~applies)
        .then(unmet)
        .when(~pl.col("judged").fill_null(False))
        .then(pl.lit(check_type.not_applicable))
        .otherwise(searched)
    )
    judged_outcome = outcome.is_in(["pass", "fail"])
    return (
        context.lazy()
        .join(matched, on="interaction_id", how="left", maintain_order="left")
        .select(
            "interaction_id",
            check=pl.lit(check.name),
            item=pl.lit(check.item, dtype=pl.String),
            outcome=outcome,
            value=pl.when(judged_outcome).then(pl.col("value").fill_null(0)),
            target=pl.lit(_target_text(check)),
            evidence=pl.when(judged_outcome & show_evidence).then(pl.col("evidence")),
            message_index=pl.when(judged_outcome & show_evidence).then(pl.col("message_index")),
            diagnostics=diagnostics,
        )
        .collect()
        .cast(RESULT_SCHEMA)  # type: ignore[arg-type]
    )


def _error_rows(check: ProtocolCheck, interaction_ids: pl.Series, error: Exception) -> pl.DataFrame:
    first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
    return pl.DataFrame({"interaction_id": interaction_ids}).select(
        "interaction_id",
        check=pl.lit(check.name),
        item=pl.lit(check.item, dtype=pl.String),
        outcome=pl.lit("error"),
        value=pl.lit(None, dtype=pl.Int64),
        target=pl.lit(_target_text(check)),
        evidence=pl.lit(None, dtype=pl.String),
        message_index=pl.lit(None, dtype=pl.Int64),
        diagnostics=pl.lit(f"not evaluated: {type(error).__name__}: {first_line}"),
    )


def run_checks(
    interactions: pl.DataFrame,
    events: pl.DataFrame,
    config: AuditsConfig,
    checks: Sequence[ProtocolCheck] | None = None,
) -> pl.DataFrame:
    """Every check (default: ``config.checks``) on every interaction; one row per (interaction, check).

    ``interactions`` may carry extra columns the checks use: ``language``, ``customer_name``,
    ``first_response_breached`` and ``sla_breached`` (from the SLA engine).
    """
    chosen = list(config.checks if checks is None else checks)
    context = _interaction_context(interactions, events, config.default_language)
    sentences = agent_sentences(
        events.join(interactions.select("interaction_id"), on="interaction_id", how="semi")
    )
    results = []
    for check in chosen:
        try:
            results.append(_evaluate(check, context, sentences, config))
        except (pl.exceptions.PolarsError, KeyError, ValueError) as exc:
            results.append(_error_rows(check, context["interaction_id"], exc))
    if not results:
        return pl.DataFrame(schema=RESULT_SCHEMA)
    return pl.concat(results)


def check_summary(results: pl.DataFrame, by: Sequence[str] = ()) -> pl.DataFrame:
    """Pass rate per check (and per ``by`` columns joined in by the caller): applicable n, passes, rate."""
    return (
        results.group_by("check", *by)
        .agg(
            applicable=pl.col("outcome").is_in(["pass", "fail"]).sum(),
            passed=(pl.col("outcome") == "pass").sum(),
            not_applicable=(pl.col("outcome") == "not_applicable").sum(),
            errors=(pl.col("outcome") == "error").sum(),
        )
        .with_columns(
            pass_rate=pl.when(pl.col("applicable") > 0).then(pl.col("passed") / pl.col("applicable"))
        )
        .sort("check", *by)
    )
