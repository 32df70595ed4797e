"""Plain export pages decoded by Arrow's JSON reader straight into the ticket columns, without a Python
object per ticket.

Decoding a page with orjson and reading the fields out of a thousand dicts holds the GIL for most of a
reading thread's time. Arrow's reader parses the pages in C++ on its own threads, with a schema of
exactly the fields :func:`connectors.zendesk_columns.ticket_columns` reads, and refuses any value whose JSON
type differs from the declared one (a text id, a float, a boolean, tags that are not a list of texts, a
duplicated key...).

So :func:`arrow_ticket_columns` gives exactly the columns ``ticket_columns`` gives for the same pages, or
None, and the caller decodes them the usual way, which keeps every odd ticket's exact result or rejection.
None also for anything the usual decoding would read otherwise: a page that is not one compact JSON object on
one line, text that is not UTF-8 (Arrow does not check it), a byte order mark, other streams' lists, a
ticket that is not an object or has no id, a null tag. One difference is left: JSON nested deeper than
Python's decoders go (about a thousand levels) inside a field the columns do not read fails the usual
decoding, and Arrow reads it.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from functools import cache
from typing import Any

import polars as pl

from connectors.zendesk_columns import (
    COLUMN_ORDER,
    NAME_ID_FIELDS,
    TEXT_FIELDS,
    TIME_FIELDS,
    TicketColumns,
)
from connectors.zendesk_context import PAGE_LIST_KEYS, TICKETS

_JSON_WHITESPACE = b" \t\r\n"
# The other lists a page can hold: declared as null, so that Arrow refuses a page where one holds anything.
_OTHER_LISTS = tuple(key for key in PAGE_LIST_KEYS if key != TICKETS)


@cache
def _json_reader() -> tuple[Any, Any]:
    """pyarrow's JSON module, and the parse options of the pages' schema (built once)."""
    import pyarrow as pa  # imported on first use: a fifth of a second
    import pyarrow.json as pa_json

    text, whole = pa.string(), pa.int64()
    ticket = pa.struct(
        [(name, whole) for name in ("id", *NAME_ID_FIELDS)]
        + [(name, text) for name in (*TEXT_FIELDS, *TIME_FIELDS)]
        + [
            ("via", pa.struct([("channel", text)])),
            ("satisfaction_rating", pa.struct([("score", text)])),
            ("tags", pa.list_(text)),
        ]
    )
    schema = pa.schema([("tickets", pa.list_(ticket))] + [(name, pa.null()) for name in _OTHER_LISTS])
    return pa_json, pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")


def _one_line_object(data: bytes) -> bytes | None:
    """The page's JSON object without surrounding whitespace, when it is one object on one line of UTF-8."""
    body = data.strip(_JSON_WHITESPACE)
    if not (body.startswith(b"{") and body.endswith(b"}")) or b"\n" in body or b"\r" in body:
        return None
    if not body.isascii():
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return None
    return body


def arrow_ticket_columns(pages: Sequence[bytes]) -> tuple[list[int], TicketColumns] | None:
    """The number of tickets of each page and the columns of all of them, in order, as
    :func:`connectors.zendesk_columns.ticket_columns` gives them without custom fields; None when Arrow
    cannot give exactly that (see the module's docstring)."""
    bodies: list[bytes] = []
    for data in pages:
        body = _one_line_object(data)
        if body is None:  # pretty-printed exports stop at their first page
            return None
        bodies.append(body)
    if not bodies:
        return None
    pa_json, options = _json_reader()
    joined = b"\n".join(bodies)
    # Each page is one line, and a line must fit in a block; blocks are parsed in parallel.
    block = max(map(len, bodies)) + 1
    try:
        table = pa_json.read_json(
            io.BytesIO(joined), read_options=pa_json.ReadOptions(block_size=block), parse_options=options
        )
    except Exception:  # refused: the usual decoding reads or rejects it
        return None
    lists = table.column("tickets")
    if table.num_rows != len(bodies) or lists.null_count:
        return None
    lists = lists.combine_chunks()
    tickets = lists.flatten()
    if tickets.null_count or tickets.field("tags").flatten().null_count:
        return None
    counts = lists.value_lengths().to_pylist()
    frame = pl.from_arrow(tickets)
    assert isinstance(frame, pl.Series)
    frame = frame.struct.unnest()
    if frame["id"].null_count():
        return None
    # _row: each ticket's position in its page, from 1.
    filled = pl.Series([count for count in counts if count], dtype=pl.Int64)
    rows = pl.select(pl.int_ranges(1, pl.lit(filled) + 1).explode()).to_series().cast(pl.Int64)
    columns = frame.select(
        pl.lit(rows).alias("_row"),
        "id",
        *NAME_ID_FIELDS,
        *TEXT_FIELDS,
        *TIME_FIELDS,
        pl.col("via").struct.field("channel"),
        pl.col("satisfaction_rating").struct.field("score").alias("rating_score"),
        pl.col("tags").fill_null(pl.lit([], dtype=pl.List(pl.String))),
    ).select(COLUMN_ORDER)
    return counts, TicketColumns(
        frame=columns, odd={}, custom_fields=None, source=None, custom_fields_read=False
    )
