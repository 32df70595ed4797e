"""Column versions of the per-value helpers of :mod:`connectors.parsing`, for the column-wise Zendesk parser.

Each one gives exactly what the per-value helper gives, value by value, and reports the positions where
that helper would raise or where a value's JSON type is one it does not take: those records are mapped one
by one by the per-ticket mapping, so that odd records keep their exact result or rejection.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import chain
from typing import Any

import polars as pl

from connectors.parsing import RecordError, to_utc
from servicelens.model import UTC_DATETIME

# ISO 8601 texts polars parses exactly as ``datetime.fromisoformat`` does: leap seconds, offsets of 24 h
# or more, other shapes (space separator, basic format, ",5" fractions) and years outside 1000-2999 (where
# an offset can leave datetime's range) are parsed by ``to_utc`` itself. Invalid dates give null here.
# Zendesk writes the first shape; trying it alone first is three times faster.
_ISO_SHAPES = (
    (
        r"^[12][0-9]{3}-[0-9]{2}-[0-9]{2}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]Z$",
        "%Y-%m-%dT%H:%M:%SZ",
    ),
    (
        r"^[12][0-9]{3}-[0-9]{2}-[0-9]{2}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?"
        r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$",
        "%Y-%m-%dT%H:%M:%S%.f%#z",
    ),
    (
        r"^[12][0-9]{3}-[0-9]{2}-[0-9]{2}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?$",
        "%Y-%m-%dT%H:%M:%S%.f",  # naive: UTC, as to_utc reads it
    ),
)
# What str.strip() strips: the characters for which str.isspace() is true (polars' default set differs).
PYTHON_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_INT64 = (-(2**63), 2**63 - 1)
_LIST_SEPARATOR = "\x1f"  # ASCII unit separator: never in a Zendesk tag (checked all the same)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def int_column(values: list[Any], odd: set[int], *, required: bool = False) -> pl.Series:
    """Whole numbers (64-bit) and nulls as an Int64 series; other values become null and their positions
    go to ``odd`` (so do nulls when ``required``)."""
    kinds = set(map(type, values))
    if kinds <= {int, type(None)} and not (required and type(None) in kinds):
        try:
            return pl.Series(values, dtype=pl.Int64)
        except TypeError:  # beyond 64 bits
            pass
    low, high = _INT64
    clean: list[int | None] = []
    for position, value in enumerate(values):
        if type(value) is int and low <= value <= high:
            clean.append(value)
        else:
            clean.append(None)
            if value is not None or required:
                odd.add(position)
    return pl.Series(clean, dtype=pl.Int64)


def text_column(values: list[Any], odd: set[int]) -> pl.Series:
    """Texts and nulls as a String series; other values become null and their positions go to ``odd``."""
    if set(map(type, values)) <= {str, type(None)}:
        return pl.Series(values, dtype=pl.String)
    clean: list[str | None] = []
    for position, value in enumerate(values):
        if value is None or type(value) is str:
            clean.append(value)
        else:
            clean.append(None)
            odd.add(position)
    return pl.Series(clean, dtype=pl.String)


def tags_column(values: list[Any], odd: set[int]) -> pl.Series:
    """Lists of texts as a List(String) series, empty for empty values (``tags or []``); anything else
    (a text, an object, a list holding other values) becomes empty and its position goes to ``odd``."""
    lists: list[Any] = [value or () for value in values]
    clean = set(map(type, lists)) <= {list, tuple}
    if clean:
        flat = list(chain.from_iterable(lists))
        clean = set(map(type, flat)) <= {str}
    if not clean:
        for position, value in enumerate(lists):
            if type(value) is not tuple and not (type(value) is list and all(type(t) is str for t in value)):
                lists[position] = ()
                odd.add(position)
        flat = list(chain.from_iterable(lists))
    if _LIST_SEPARATOR in "".join(flat):
        return pl.Series([list(tags) for tags in lists], dtype=pl.List(pl.String))  # slow, seldom
    # Joined and split again by polars: building lists from Python lists is 20 times slower, and arrow
    # would load pandas (half a second) on its first use.
    joined = pl.Series([_LIST_SEPARATOR.join(tags) if tags else None for tags in lists], dtype=pl.String)
    empty = pl.lit([], dtype=pl.List(pl.String))
    return pl.select(pl.lit(joined).str.split(_LIST_SEPARATOR).fill_null(empty)).to_series()


def utc_column(values: list[Any], field_name: str, failed: set[int]) -> pl.Series:
    """``to_utc(value, field_name)`` of every value as a UTC datetime series.

    Positions where ``to_utc`` raises (any error: the per-ticket mapping reproduces it) go to ``failed``
    with a null value.
    """
    if set(map(type, values)) <= {str, type(None)}:
        return utc_from_text(pl.Series(values, dtype=pl.String), field_name, failed)
    text = pl.Series([v if type(v) is str else None for v in values], dtype=pl.String)
    others = [i for i, v in enumerate(values) if v is not None and type(v) is not str]
    parsed = utc_from_text(text, field_name, failed)
    return _scatter(parsed, others, [_micros(values[i], field_name, i, failed) for i in others])


def utc_from_text(text: pl.Series, field_name: str, failed: set[int]) -> pl.Series:
    """``to_utc`` of every text of a String series (see :func:`utc_column`)."""
    parsed = _parsed_shape(text, *_ISO_SHAPES[0])
    for pattern, format_ in _ISO_SHAPES[1:]:
        if parsed.null_count() == text.null_count():
            return parsed
        parsed = parsed.fill_null(_parsed_shape(text, pattern, format_))
    if parsed.null_count() == text.null_count():
        return parsed
    by_python = (text.is_not_null() & parsed.is_null()).arg_true().to_list()
    unread = text.gather(by_python).to_list()
    micros = [_micros(value, field_name, i, failed) for i, value in zip(by_python, unread, strict=True)]
    return _scatter(parsed, by_python, micros)


def _micros(value: Any, field_name: str, position: int, failed: set[int]) -> int | None:
    """``to_utc`` of one value in microseconds since the epoch; a failure goes to ``failed``."""
    try:
        at = to_utc(value, field_name)
    except Exception:  # whatever it is, the per-ticket mapping raises it again
        failed.add(position)
        return None
    return None if at is None else (at - _EPOCH) // _MICROSECOND


def _scatter(parsed: pl.Series, positions: list[int], micros: list[int | None]) -> pl.Series:
    if not positions:
        return parsed
    physical = parsed.cast(pl.Int64).scatter(positions, pl.Series(micros, dtype=pl.Int64))
    return physical.cast(UTC_DATETIME)


def _parsed_shape(text: pl.Series, pattern: str, format_: str) -> pl.Series:
    """The texts of the shape ``pattern`` read with ``format_``; null for others and for invalid dates."""
    column = pl.lit(text)
    read = column.str.to_datetime(format_, time_unit="us", time_zone="UTC", strict=False)
    return pl.select(pl.when(column.str.contains(pattern)).then(read).alias(text.name)).to_series()


def map_distinct(
    column: pl.Series, mapping: Callable[[Any], Any], dtype: pl.DataType, failed: set[int] | None = None
) -> pl.Series:
    """``mapping`` of every value, called once per distinct value (nulls included).

    Positions whose value makes ``mapping`` raise :class:`RecordError` get null and go to ``failed``
    (without ``failed`` the error propagates). Values are looked up in a dict: for the few thousand rows
    of an export page that is several times faster than polars' unique / replace.
    """
    if column.len() and column.null_count() == column.len():  # a field the account does not use
        return pl.repeat(
            _mapped_or_refused(mapping, None, failed, range(column.len())),
            column.len(),
            dtype=dtype,
            eager=True,
        ).alias(column.name)
    values = column.to_list()
    results: dict[Any, Any] = {}
    refused: set[Any] = set()
    for value in set(values):
        try:
            results[value] = mapping(value)
        except RecordError:
            if failed is None:
                raise
            results[value] = None
            refused.add(value)
    if refused and failed is not None:
        failed.update(position for position, value in enumerate(values) if value in refused)
    return pl.Series(column.name, list(map(results.__getitem__, values)), dtype=dtype)


def _mapped_or_refused(
    mapping: Callable[[Any], Any], value: Any, failed: set[int] | None, positions: range
) -> Any:
    try:
        return mapping(value)
    except RecordError:
        if failed is None:
            raise
        failed.update(positions)
        return None


def stripped_text(column: pl.Expr) -> pl.Expr:
    """``text_or_none`` of a String column: stripped as ``str.strip()`` strips, empty texts as null."""
    stripped = column.str.strip_chars(PYTHON_WHITESPACE)
    return pl.when(stripped != "").then(stripped)
