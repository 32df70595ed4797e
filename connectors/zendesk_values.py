"""Column versions of the per-value helpers of :mod:`connectors.parsing`, for the column-wise Zendesk parser.

Each one gives exactly what the per-value helper gives, value by value, and reports the positions where
that helper would raise or where a value's JSON type is one it does not take: those records are mapped one
by one by the per-ticket mapping, so that odd records keep their exact result or rejection.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from itertools import chain
from typing import Any

import polars as pl

from connectors.parsing import RecordError, to_utc
from servicelens.model import UTC_DATETIME

# Times as Zendesk writes them, read alone first: most texts have this shape. ``datetime.fromisoformat``
# reads its valid dates as polars does (invalid ones give null here and are read by ``to_utc``).
_ZENDESK_TIME = (
    r"^[12][0-9]{3}-[0-9]{2}-[0-9]{2}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]Z$",
    "%Y-%m-%dT%H:%M:%SZ",
)
# Other ISO 8601 texts polars parses exactly as ``datetime.fromisoformat`` does: leap seconds, offsets of
# 24 h or more, other shapes (space separator, basic format, ",5" fractions) and years outside 1000-2999
# (where an offset can leave datetime's range) are parsed by ``to_utc`` itself.
_ISO_SHAPES = (
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
_FEW_TAG_LISTS = 16
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def constant_column(value: Any, height: int, dtype: pl.DataType, name: str = "") -> pl.Series:
    """``height`` times the same value (null when None): far cheaper than polars' ``repeat``."""
    return _one_value(value, dtype, name).new_from_index(0, height)


@lru_cache(maxsize=256)
def _one_value(value: Any, dtype: pl.DataType, name: str) -> pl.Series:
    return pl.Series(name, [value], dtype=dtype)  # converting the dtype costs more than the rest


def int_column(values: list[Any], odd: set[int], *, required: bool = False) -> pl.Series:
    """Whole numbers (64-bit) and nulls as an Int64 series; other values become null and their positions
    go to ``odd`` (so do nulls when ``required``)."""
    if not required and all_none(values):  # a field the account does not use
        return constant_column(None, len(values), pl.Int64())
    # polars' strict conversion refuses every other type but bool, and numbers beyond 64 bits; bools are
    # counted apart (as 1 and 0 are: such lists take the slow path). Cheaper than checking each type.
    if not values.count(True) and not values.count(False):
        try:
            column = pl.Series(values, dtype=pl.Int64, strict=True)
        except Exception:  # whatever it refuses is sorted out below
            pass
        else:
            if not (required and column.null_count()):
                return column
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


def all_none(values: list[Any]) -> bool:
    """Whether every value is None: ``any`` stops at the first true value, and comparing values with None
    costs more than telling their truth."""
    return not any(values) and values.count(None) == len(values)


def text_column(values: list[Any], odd: set[int]) -> pl.Series:
    """Texts and nulls as a String series; other values become null and their positions go to ``odd``."""
    if all_none(values):
        return constant_column(None, len(values), pl.String())
    try:  # polars' strict conversion refuses any other type: cheaper than checking each type
        return pl.Series(values, dtype=pl.String, strict=True)
    except Exception:  # whatever it refuses is sorted out below
        pass
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
    # Tickets share few tag lists: a few distinct ones are built and repeated. Many are joined and split
    # again by polars: building lists from Python lists costs 6 µs each, and arrow would load pandas (half a
    # second) on its first use.
    joined: list[str | None] = list(map(_LIST_SEPARATOR.join, lists))
    if "" in joined:  # empty lists (null here) told from lists of one empty tag
        joined = [_LIST_SEPARATOR.join(tags) if tags else None for tags in lists]
    distinct = list(dict.fromkeys(joined))
    if len(distinct) > _FEW_TAG_LISTS:
        return _split_tags(joined)
    # Split back exactly: no tag holds the separator.
    split = [[] if tags is None else tags.split(_LIST_SEPARATOR) for tags in distinct]
    built = pl.Series(split, dtype=pl.List(pl.String))
    if len(distinct) == 1:
        return built.new_from_index(0, len(joined))
    index = {tags: code for code, tags in enumerate(distinct)}
    return built.gather(list(map(index.__getitem__, joined)))


def _split_tags(joined: list[str | None]) -> pl.Series:
    return pl.Series("tags", joined, dtype=pl.String).to_frame().select_seq(_SPLIT_TAGS).to_series()


_SPLIT_TAGS = pl.col("tags").str.split(_LIST_SEPARATOR).fill_null(pl.lit([], dtype=pl.List(pl.String)))


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
    [parsed] = utc_from_texts(text.to_frame(), {text.name: field_name}, failed)
    return parsed


def utc_from_texts(frame: pl.DataFrame, fields: dict[str, str], failed: set[int]) -> list[pl.Series]:
    """:func:`utc_from_text` of several String columns of ``frame`` (column name -> field name), read
    together: one polars query for all costs less than one each."""
    read = [name for name in fields if frame[name].null_count() < frame.height]
    times = frame.select_seq([_zendesk_times(name) for name in read]) if read else pl.DataFrame()
    return [
        _other_times(frame[name], field_name, times[name], failed)
        if name in read
        else constant_column(None, frame.height, UTC_DATETIME, name)
        for name, field_name in fields.items()
    ]


@lru_cache(maxsize=32)
def _zendesk_times(name: str) -> pl.Expr:
    """Column ``name``'s texts of the shape Zendesk writes, read (null for others); built once, as building
    an expression costs about as much as running it on a page."""
    pattern, format_ = _ZENDESK_TIME
    text = pl.col(name)
    read = text.str.to_datetime(format_, time_unit="us", time_zone="UTC", strict=False, cache=False)
    return pl.when(text.str.contains(pattern)).then(read).alias(name)  # times are seldom repeated


def _other_times(text: pl.Series, field_name: str, parsed: pl.Series, failed: set[int]) -> pl.Series:
    """The texts not read in the Zendesk shape (``parsed``) read in the others, then by ``to_utc``."""
    for pattern, format_ in _ISO_SHAPES:
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
    (without ``failed`` the error propagates). The results are joined back onto the column by value: for
    the several pages mapped together this costs about half of reading the values into Python and looking
    each one up in a dict.
    """
    height = column.len()
    if height and column.null_count() == height:  # a field the account does not use
        value = _mapped_or_refused(mapping, None, failed, range(height))
        return constant_column(value, height, dtype, column.name)
    distinct = column.unique()
    results: list[Any] = []
    refused: list[Any] = []
    for value in distinct.to_list():
        try:
            results.append(mapping(value))
        except RecordError:
            if failed is None:
                raise
            results.append(None)
            refused.append(value)
    if refused and failed is not None:
        known = [value for value in refused if value is not None]
        hit = column.is_in(known)
        if len(known) < len(refused):  # null was refused too
            hit = hit | column.is_null()
        failed.update(hit.arg_true().to_list())
    if len({(type(result), result) for result in results}) == 1:  # as a deleted flag mostly is
        return constant_column(results[0], height, dtype, column.name)
    table = pl.DataFrame([distinct.alias("value"), pl.Series("mapped", results, dtype=dtype)])
    joined = (
        column.alias("value")
        .to_frame()
        .join(table, on="value", how="left", nulls_equal=True, maintain_order="left")
    )
    return joined.get_column("mapped").alias(column.name)


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
