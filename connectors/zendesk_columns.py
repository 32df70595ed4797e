"""One file's Zendesk tickets as typed columns: the fields the mapping reads, taken from the decoded records
once, in C-speed passes, so that both the folder's context and the parse use them without decoding again.

A ticket whose fields have JSON types the columns do not hold (an id that is text, tags that are not a
list of texts, a timestamp that is a number...) is *odd*: its record is kept whole and it is mapped by the
per-ticket mapping, which gives its exact result or rejection.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import repeat
from typing import Any

import polars as pl

from connectors.parsing import JsonList, JsonRecord, raw_json
from connectors.zendesk_fields import ticket_custom_fields
from connectors.zendesk_values import all_none, int_column, tags_column, text_column

# Rough memory of one decoded JSON record kept as Python objects (dicts of a few dozen fields).
RECORD_BYTES = 1500
# The ticket fields read into columns, by kind; TicketColumns' frame holds them in COLUMN_ORDER.
NAME_ID_FIELDS = ("group_id", "assignee_id", "requester_id", "organization_id")
TEXT_FIELDS = ("status", "priority", "subject")
TIME_FIELDS = ("created_at", "updated_at")  # as text: read when mapped
COLUMN_ORDER = ("_row", "id", *NAME_ID_FIELDS, *TEXT_FIELDS, "channel", "rating_score", "tags", *TIME_FIELDS)


class TicketSource:
    """The decoded tickets of one file in order, each with the record it came from (for rejections)."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self.rows: list[int] = []
        self._origins: list[JsonRecord | JsonList] = []

    def add_list(self, chunk: JsonList, undecodable: list[JsonRecord]) -> None:
        """A page's list of tickets; items that are not objects are undecodable, as records would be."""
        if set(map(type, chunk.items)) <= {dict}:
            self.items.extend(chunk.items)
            self.rows.extend(range(1, len(chunk.items) + 1))
            self._origins.extend(repeat(chunk, len(chunk.items)))
            return
        for number, item in enumerate(chunk.items, start=1):
            if type(item) is dict:
                self.items.append(item)
                self.rows.append(number)
                self._origins.append(chunk)
            else:
                raw = raw_json(item)
                undecodable.append(
                    JsonRecord(number, chunk.key, None, raw, "record is not an object", page=chunk.page)
                )

    def add_record(self, record: JsonRecord) -> None:
        assert record.data is not None
        self.items.append(record.data)
        self.rows.append(record.row)
        self._origins.append(record)

    def extend(self, other: TicketSource) -> None:
        """Another file's tickets after these (each keeps its own row numbers)."""
        self.items.extend(other.items)
        self.rows.extend(other.rows)
        self._origins.extend(other._origins)

    def record(self, position: int) -> JsonRecord:
        origin = self._origins[position]
        if isinstance(origin, JsonRecord):
            return origin
        return JsonRecord(self.rows[position], origin.key, self.items[position], page=origin.page)


@dataclass
class TicketColumns:
    """The mapped fields of one file's tickets, one row per ticket in file order.

    ``frame`` columns: ``_row``, ``id``, the ids of group, assignee, requester and organization (Int64),
    ``status``, ``priority``, ``subject``, ``channel`` (via.channel), ``rating_score`` (the ticket's own
    satisfaction_rating.score), ``created_at`` and ``updated_at`` as text, and ``tags``. Odd tickets have
    nulls there; their records are in ``odd``, by position.
    """

    frame: pl.DataFrame
    odd: dict[int, JsonRecord]
    # Per ticket, its custom field list as decoded (kept by reference); None when no ticket has any or
    # when they were not read.
    custom_fields: list[Any] | None
    # Every decoded record, while at hand: dropped when the columns are kept for later.
    source: TicketSource | None
    custom_fields_read: bool = True

    @property
    def height(self) -> int:
        return self.frame.height

    def estimated_bytes(self) -> int:
        with_custom_fields = sum(map(bool, self.custom_fields or ()))
        return int(self.frame.estimated_size()) + RECORD_BYTES * (len(self.odd) + with_custom_fields)

    def records(self, positions: list[int]) -> list[JsonRecord] | None:
        """The records of these tickets; None when they are no longer at hand (decode the file again)."""
        if self.source is not None:
            return [self.source.record(p) for p in positions]
        if all(p in self.odd for p in positions):
            return [self.odd[p] for p in positions]
        return None


def ticket_columns(source: TicketSource, custom_fields: bool = True) -> TicketColumns:
    """The typed columns of the decoded tickets; odd tickets keep their records. Their custom field lists
    are read only when ``custom_fields``."""
    tickets = source.items
    odd: set[int] = set()

    def values(name: str) -> list[Any]:
        return list(map(dict.get, tickets, repeat(name)))  # faster than a comprehension

    columns: dict[str, pl.Series] = {
        "_row": pl.Series(source.rows, dtype=pl.Int64),
        "id": int_column(values("id"), odd, required=True),
    }
    for name in NAME_ID_FIELDS:
        columns[name] = int_column(values(name), odd)
    for name in TEXT_FIELDS:
        columns[name] = text_column(values(name), odd)
    columns["channel"] = text_column(_via_channels(values("via"), odd), odd)
    ratings = values("satisfaction_rating")
    if not all_none(ratings):
        ratings = [r.get("score") if type(r) is dict else None for r in ratings]
    columns["rating_score"] = text_column(ratings, odd)
    columns["tags"] = tags_column(values("tags"), odd)
    for name in TIME_FIELDS:  # read when mapped: parsing here would delay the first load
        columns[name] = text_column(values(name), odd)
    fields = list(map(ticket_custom_fields, tickets)) if custom_fields else []
    return TicketColumns(
        frame=pl.DataFrame([series.alias(name) for name, series in columns.items()]),
        odd={position: source.record(position) for position in sorted(odd)},
        custom_fields=fields if any(fields) else None,
        source=source,
        custom_fields_read=custom_fields,
    )


def _via_channels(vias: list[Any], odd: set[int]) -> list[Any]:
    """``(via or {}).get("channel")``; a via that is neither an object nor empty is odd."""
    kinds = set(map(type, vias))
    if kinds <= {dict}:
        return list(map(dict.get, vias, repeat("channel")))
    if kinds <= {dict, type(None)}:
        return [None if via is None else via.get("channel") for via in vias]
    channels: list[Any] = []
    for position, via in enumerate(vias):
        if type(via) is dict:
            channels.append(via.get("channel"))
        else:
            channels.append(None)
            if via:
                odd.add(position)
    return channels
