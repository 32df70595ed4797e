"""Protocol check types, registered by name (in the manner of pandera's registered checks).

A check type is a *matcher*: a function from the configured check to a boolean ``pl.Expr`` evaluated on
one row per transcript sentence. The sentence rows carry ``sentence``, ``language`` and ``customer_name``.
The matcher returns null for a sentence it cannot judge (no phrases for that language, unknown customer
name); ``audits.checks`` turns "nothing could be judged" into *not applicable* with the type's reason.

Register a new type with::

    @register_check_type("mentions_order_number", target="an order number is quoted",
                         not_applicable="never")
    def _order_number(check: ProtocolCheck) -> pl.Expr:
        return pl.col("sentence").str.contains(r"#\\d{6}")
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import polars as pl

from audits.conditions import CONDITIONS, Condition

if TYPE_CHECKING:
    from audits.config import ProtocolCheck

__all__ = [
    "CHECK_TYPES",
    "CONDITIONS",
    "CheckType",
    "phrase_regex",
    "register_check_type",
    "register_condition",
]


@dataclass(frozen=True)
class CheckType:
    name: str
    matcher: Callable[[ProtocolCheck], pl.Expr]
    target: str  # what "pass" means, shown next to each result
    not_applicable: str  # why a transcript could not be judged when the matcher yields only nulls
    validators: tuple[Callable[[ProtocolCheck], list[str]], ...] = field(default=())

    def validate(self, check: ProtocolCheck) -> list[str]:
        return [problem for validator in self.validators for problem in validator(check)]


CHECK_TYPES: dict[str, CheckType] = {}


def register_check_type(
    name: str,
    *,
    target: str,
    not_applicable: str,
    validators: tuple[Callable[[ProtocolCheck], list[str]], ...] = (),
) -> Callable[[Callable[[ProtocolCheck], pl.Expr]], Callable[[ProtocolCheck], pl.Expr]]:
    def decorate(matcher: Callable[[ProtocolCheck], pl.Expr]) -> Callable[[ProtocolCheck], pl.Expr]:
        if name in CHECK_TYPES:
            raise ValueError(f"check type {name!r} is already registered")
        CHECK_TYPES[name] = CheckType(name, matcher, target, not_applicable, validators)
        return matcher

    return decorate


def register_condition(condition: Condition) -> Condition:
    if condition.name in CONDITIONS:
        raise ValueError(f"condition {condition.name!r} is already registered")
    CONDITIONS[condition.name] = condition
    return condition


_REGEX_META = re.compile(r"([\\.+*?()|\[\]{}^$#&\-~])")


def phrase_regex(phrase: str) -> str:
    """A case-insensitive regex (Rust syntax, as polars uses) matching the phrase as whole words.

    Runs of whitespace in the phrase match any whitespace, so "sorry for the  delay" still matches.

    >>> phrase_regex("Sorry for the delay")
    '\\\\bSorry\\\\s+for\\\\s+the\\\\s+delay\\\\b'
    """
    words = [_REGEX_META.sub(r"\\\1", word) for word in phrase.split()]
    body = r"\s+".join(words)
    start = r"\b" if re.match(r"\w", phrase.strip()) else ""
    end = r"\b" if re.search(r"\w$", phrase.strip()) else ""
    return f"{start}{body}{end}"


def _regex_compiles(pattern: str) -> str | None:
    """None when polars accepts the pattern, else the parser's complaint (first line)."""
    try:
        pl.select(pl.lit("").str.contains(pattern))
    except pl.exceptions.PolarsError as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        return lines[-1] if lines else str(exc)
    return None


def _by_language(patterns: dict[str, str]) -> pl.Expr:
    """``sentence`` matched against the pattern for the row's language; null when the language has none."""
    expr: pl.Expr = pl.lit(None, dtype=pl.Boolean)
    for language, pattern in sorted(patterns.items()):
        expr = (
            pl.when(pl.col("language") == language)
            .then(pl.col("sentence").str.contains(pattern))
            .otherwise(expr)
        )
    return expr


def _needs_phrases(check: ProtocolCheck) -> list[str]:
    if not any(check.phrases.values()):
        return ["type 'phrases' needs at least one phrase under phrases: {language: [...]}"]
    empty = [phrase for phrases in check.phrases.values() for phrase in phrases if not phrase.strip()]
    return ["phrases must not be empty strings"] if empty else []


def _needs_valid_patterns(check: ProtocolCheck) -> list[str]:
    if not any(check.patterns.values()):
        return ["type 'regex' needs at least one pattern under patterns: {language: [...]}"]
    problems = []
    for language, patterns in check.patterns.items():
        for pattern in patterns:
            error = _regex_compiles(pattern)
            if error is not None:
                problems.append(
                    f"patterns.{language}: {pattern!r} is not a valid regular expression: {error}"
                )
    return problems


def _no_lists(check: ProtocolCheck) -> list[str]:
    if check.phrases or check.patterns:
        return [f"type {check.type!r} takes no phrases or patterns"]
    return []


@register_check_type(
    "phrases",
    target="one of the phrases appears",
    not_applicable="no phrases for the transcript's language",
    validators=(_needs_phrases,),
)
def _phrases(check: ProtocolCheck) -> pl.Expr:
    return _by_language(
        {
            language: "(?i)" + "|".join(f"(?:{phrase_regex(p)})" for p in phrases)
            for language, phrases in check.phrases.items()
            if phrases
        }
    )


@register_check_type(
    "regex",
    target="one of the patterns matches",
    not_applicable="no patterns for the transcript's language",
    validators=(_needs_valid_patterns,),
)
def _regex(check: ProtocolCheck) -> pl.Expr:
    return _by_language(
        {
            language: "(?i)" + "|".join(f"(?:{p})" for p in patterns)
            for language, patterns in check.patterns.items()
            if patterns
        }
    )


@register_check_type(
    "customer_name",
    target="the customer's name is used",
    not_applicable="the customer's name is unknown",
    validators=(_no_lists,),
)
def _customer_name(check: ProtocolCheck) -> pl.Expr:
    name_pattern = pl.concat_str(pl.lit(r"(?i)\b"), pl.col("customer_name").str.escape_regex(), pl.lit(r"\b"))
    return pl.when(pl.col("customer_name").is_not_null()).then(pl.col("sentence").str.contains(name_pattern))
