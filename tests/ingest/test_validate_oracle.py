"""Interaction validation against a row-by-row oracle: identity, enumerations, a missing created_at and
whole numbers (reopens and the survey scores), for text and already typed columns, present, absent or all
null."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.validate import validate_interactions
from servicelens.model import Channel, Priority, Status

SOURCE = "shop"
WORDS = ["", " ", "a", " b ", "a:b", "shop", "Email", " CHAT", "web ", "fax", "High", "low", "urgent", "x"]
STATUSES = ["open", " Solved ", "PENDING", "on_hold", "lost", "", None]
ENUMS = {
    "channel": ({c.value for c in Channel}, "other"),
    "priority": ({p.value for p in Priority}, "normal"),
    "status": ({s.value for s in Status}, None),
}
# Whole numbers as text: digits, signs, fractions, exponents, beyond 32 and 64 bits, not numbers at all.
NUMBER_TEXTS = [
    *["", " ", "0", "3", " 4 ", "+5", "-1", "00012", "7", "11", "2.0", "2.5", "1e1", "1E0", ".5e1", "5."],
    *["1e30", "inf", "-Infinity", "nan", "x", "0x10", "2147483647", "2147483648", "99999999999999999999"],
]
NUMBERS = [0, 1, 3, 5, 7, 10, 11, -1, 2**31 - 1, 2**31, 2**40]
INT_RANGES = {"reopens": (0, 2**31 - 1), "csat": (1, 5), "nps": (0, 10), "ces": (1, 7)}
TIMES = [datetime(2026, 3, 29, 0, 30, tzinfo=UTC), datetime(2026, 10, 25, 1, 15, tzinfo=UTC), None]


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return str(value).strip() or None


def _oracle(row: dict[str, Any]) -> tuple[dict[str, Any] | None, set[str]]:
    """The valid row's identity and enumerations, or None and the fields that failed."""
    problems: set[str] = set()
    source = _text(row.get("source")) or SOURCE
    external = _text(row.get("external_id"))
    if external is None:
        problems.add("external_id")
    if ":" in source:
        problems.add("source")
    given_id = _text(row.get("interaction_id"))
    if given_id is not None and external is not None and given_id != f"{source}:{external}":
        problems.add("interaction_id")
    created = row.get("created_at")
    if created is None or (isinstance(created, str) and not created.strip()):
        problems.add("created_at")
    valid: dict[str, Any] = {"source": source, "external_id": external}
    for name, (allowed, default) in ENUMS.items():
        value = _text(row.get(name))
        value = None if value is None else value.lower()
        if value is not None and value not in allowed:
            problems.add(name)
        valid[name] = default if value is None else value
    for name, (low, high) in INT_RANGES.items():
        number, bad = _whole(row.get(name))
        if bad or (number is not None and not low <= number <= high):
            problems.add(name)
        valid[name] = 0 if number is None and name == "reopens" else number
    return (None if problems else valid), problems


def _whole(value: Any) -> tuple[int | None, bool]:
    """(the whole number, whether the value is not one): numbers as written in decimal, with a fraction or
    an exponent when their value is whole, within 64 bits; blanks are no value."""
    if value is None or isinstance(value, int):
        return value, False
    text = value.strip()
    if not text:
        return None, False
    try:
        number = float(text)
    except ValueError:
        return None, True
    if not math.isfinite(number) or not number.is_integer():
        return None, True
    whole = int(text) if text.lstrip("+-").isdigit() else int(number)
    return (whole, False) if -(2**63) <= whole < 2**63 else (None, True)


rows = st.fixed_dictionaries(
    {
        "source": st.sampled_from([*WORDS, None]),
        "external_id": st.sampled_from([*WORDS, None]),
        "interaction_id": st.sampled_from(["shop:a", "a:b:a", "shop: b ", "", None]),
        "channel": st.sampled_from([*WORDS, None]),
        "priority": st.sampled_from([*WORDS, None]),
        "status": st.sampled_from(STATUSES),
        "created_at": st.sampled_from(TIMES),
        **{name: st.sampled_from([*NUMBER_TEXTS, None]) for name in INT_RANGES},
    }
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(rows, min_size=1, max_size=10),
    st.sampled_from(["datetime", "text", "blank text"]),
    st.sets(st.sampled_from(["source", "interaction_id", "channel", "priority", "status", *INT_RANGES])),
    st.booleans(),
    st.data(),
)
def test_validation_matches_the_row_by_row_rules(
    records: list[dict[str, Any]],
    created_as: str,
    dropped: set[str],
    typed_numbers: bool,
    data: st.DataObject,
) -> None:
    for record in records:
        if typed_numbers:  # already whole numbers (Parquet, NDJSON), some beyond the columns' ranges
            record.update({name: data.draw(st.sampled_from([*NUMBERS, None])) for name in INT_RANGES})
        if created_as != "datetime" and record["created_at"] is not None:
            record["created_at"] = record["created_at"].strftime("%Y-%m-%dT%H:%M:%SZ")
        elif created_as == "blank text" and record["created_at"] is None:
            record["created_at"] = "  "
        for name in dropped:
            record.pop(name)
    schema: dict[str, pl.DataType] = {
        name: pl.Int64() if typed_numbers and name in INT_RANGES else pl.String()
        for name in records[0]
        if name != "created_at"
    }
    schema["created_at"] = pl.Datetime("us", "UTC") if created_as == "datetime" else pl.String()
    frame = pl.DataFrame(records, schema=schema, orient="row").with_columns(
        pl.lit("f.csv").alias("_file"), pl.int_range(1, pl.len() + 1).alias("_row")
    )
    valid, problems = validate_interactions(frame, SOURCE)
    columns = ["source", "external_id", *ENUMS, *INT_RANGES]
    expected_valid = []
    for number, record in enumerate(records, start=1):
        expected, failed = _oracle(record)
        found = set(problems.filter(pl.col("row") == number)["field"].to_list())
        assert found == failed, (record, problems.filter(pl.col("row") == number))
        if expected is not None:
            expected_valid.append(expected)
    assert valid.select(columns).to_dicts() == expected_valid
