"""Consecutive plain pages of tickets of an export folder decoded and mapped together: each polars call
costs about as much for one page of a thousand tickets as for several, so sharing the calls among a few
pages cuts a third of the mapping's cost. Every file still gets what :func:`parse_zendesk_file` gives it.

Pages are read ahead only once files are parsed in the folder's order, and only plain pages
(:attr:`ZendeskContext.plain_files`), whose parse changes nothing the mapping reads. A page mapped ahead
is handed out only if neither it nor the context's names, metrics and ratings changed since; its records
join the context, and its rows and rejections are made, when it is parsed, in the order files are parsed.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import polars as pl

from connectors.base import SOURCE_FILE
from connectors.files import UnreadableFileError, cyclic_gc_paused
from connectors.parsing import JsonRecord, ParsedFile
from connectors.zendesk import MappedTickets, parse_mapped_zendesk_file, parse_zendesk_file
from connectors.zendesk_arrow import arrow_ticket_columns
from connectors.zendesk_columns import TicketColumns, TicketSource, ticket_columns
from connectors.zendesk_context import (
    DecodedFile,
    FileRecords,
    ZendeskContext,
    file_stamp,
    read_zendesk_records,
)
from connectors.zendesk_fields import ZendeskOptions, reads_custom_fields
from connectors.zendesk_frame import map_ticket_columns
from connectors.zendesk_values import constant_column

# Pages mapped at once: more shares the calls further, but holds more decoded records and maps further
# ahead of what the run may still skip.
PAGES_AT_ONCE = 8


@dataclass
class _MappedPage:
    decoded: DecodedFile
    mapped: MappedTickets
    context_version: int


class ZendeskFolderParser:
    """``parse(path)`` for the files of one export folder (``files``, in the order they are listed), as
    ``parse_zendesk_file(path, options, context)`` gives it, with the folder's ``context``."""

    def __init__(self, options: ZendeskOptions, context: ZendeskContext, files: Sequence[Path]):
        self._options = options
        self._context = context
        self._following = dict(pairwise(files))
        self._ahead: dict[Path, _MappedPage] = {}
        self._last: Path | None = None

    def __call__(self, path: Path) -> ParsedFile:
        in_order = self._last is not None and self._following.get(self._last) == path
        self._last = path
        page = self._ahead.pop(path, None)
        if page is None or not self._unchanged(path, page):
            self._ahead.clear()
            page = self._map_ahead(path) if in_order and path in self._context.plain_files else None
        if page is None:
            return parse_zendesk_file(path, self._options, self._context)
        return parse_mapped_zendesk_file(path, self._options, self._context, page.decoded, page.mapped)

    def _unchanged(self, path: Path, page: _MappedPage) -> bool:
        try:
            stamp = file_stamp(path)
        except OSError:
            return False
        return stamp == page.decoded.stamp and page.context_version == self._context.version

    def _map_ahead(self, path: Path) -> _MappedPage | None:
        """This page mapped with the plain pages that follow it; the others are kept for their turn. None
        when there is no page to share the work with, or anything fails (the page is then parsed alone,
        failing as it fails alone)."""
        paths = [path]
        while len(paths) < PAGES_AT_ONCE and (following := self._following.get(paths[-1])) is not None:
            if following not in self._context.plain_files:
                break
            paths.append(following)
        if len(paths) < 2:
            return None
        try:
            with cyclic_gc_paused():  # the decoded records are freed before a collection could walk them
                pages = self._mapped_together(paths)
        except Exception:  # whatever it is, the page alone gives it again, or its exact result
            return None
        self._ahead.update(pages)
        return self._ahead.pop(path, None)

    def _mapped_together(self, paths: list[Path]) -> dict[Path, _MappedPage]:
        if not reads_custom_fields(self._options):
            pages = self._mapped_by_arrow(paths)
            if pages is not None:
                return pages
        files: list[tuple[Path, FileRecords]] = []
        for path in paths:
            try:
                files.append((path, read_zendesk_records(path)))
            except UnreadableFileError:
                break  # this one fails when parsed; those before it are mapped
        if len(files) < 2:
            return {}
        source = TicketSource()
        for _, records in files:
            source.extend(records.tickets)
        columns = ticket_columns(source, reads_custom_fields(self._options))
        frame, left = self._mapped(columns)
        return self._split(
            [(path, records.stamp, len(records.tickets.items)) for path, records in files],
            columns,
            frame,
            left,
            {path: records for path, records in files},
            source.record,
        )

    def _mapped_by_arrow(self, paths: list[Path]) -> dict[Path, _MappedPage] | None:
        """The pages decoded by Arrow (:mod:`connectors.zendesk_arrow`); None when Arrow cannot decode them
        exactly. The records of tickets left to the per-ticket mapping are read from their pages again."""
        stamps, texts = [], []
        for path in paths:
            try:
                stamps.append(file_stamp(path))  # before reading, as the usual decoding takes it
                texts.append(path.read_bytes())
            except OSError:
                return None
        decoded = arrow_ticket_columns(texts)
        if decoded is None:
            return None
        counts, columns = decoded
        frame, left = self._mapped(columns)
        files = list(zip(paths, stamps, counts, strict=True))
        record_of = _left_records(files, left) if left else None
        if left and record_of is None:
            return None
        return self._split(files, columns, frame, left, {}, record_of)

    def _mapped(self, columns: TicketColumns) -> tuple[pl.DataFrame, list[int]]:
        if not columns.height:
            return pl.DataFrame(), []
        return map_ticket_columns(columns, self._options, self._context, "")

    def _split(
        self,
        files: list[tuple[Path, tuple[int, int], int]],
        columns: TicketColumns,
        frame: pl.DataFrame,
        left: list[int],
        records: dict[Path, FileRecords],
        record_of: Callable[[int], JsonRecord] | None,
    ) -> dict[Path, _MappedPage]:
        """Each file's share of the columns mapped together: ``files`` are (path, stamp, tickets), in order;
        ``left`` the positions left to the per-ticket mapping, whose records ``record_of`` gives."""
        pages: dict[Path, _MappedPage] = {}
        start = mapped_start = 0
        for path, stamp, count in files:
            end = start + count
            page_left = left[bisect_left(left, start) : bisect_left(left, end)]
            assert record_of is not None or not page_left
            mapped_rows = end - start - len(page_left)
            mapped = MappedTickets(
                _named_file(frame.slice(mapped_start, mapped_rows), path.name) if end > start else None,
                [record_of(position) for position in page_left] if record_of is not None else [],
            )
            own = records.get(path)
            decoded = DecodedFile(
                stamp,
                own.streams if own is not None else defaultdict(list),
                _page(columns, start, end),
                own.undecodable if own is not None else [],
            )
            pages[path] = _MappedPage(decoded, mapped, self._context.version)
            start, mapped_start = end, mapped_start + mapped_rows
        return pages


def _left_records(
    files: list[tuple[Path, tuple[int, int], int]], left: list[int]
) -> Callable[[int], JsonRecord] | None:
    """The records of the tickets at positions ``left`` among the pages ``files`` (path, stamp, tickets),
    read again from the pages that hold any; None when one of those pages changed since."""
    pages: list[tuple[int, TicketSource]] = []
    start = 0
    for path, stamp, count in files:
        end = start + count
        if bisect_left(left, start) < bisect_left(left, end):
            try:
                records = read_zendesk_records(path)
            except UnreadableFileError:
                return None
            if records.stamp != stamp or len(records.tickets.items) != count:
                return None
            pages.append((start, records.tickets))
        start = end
    starts = [page_start for page_start, _ in pages]

    def record_of(position: int) -> JsonRecord:
        page_start, tickets = pages[bisect_right(starts, position) - 1]
        return tickets.record(position - page_start)

    return record_of


def _page(columns: TicketColumns, start: int, end: int) -> TicketColumns:
    """The tickets of one page among the columns of several."""
    custom_fields = None if columns.custom_fields is None else columns.custom_fields[start:end]
    return TicketColumns(
        frame=columns.frame.slice(start, end - start),
        odd={position - start: record for position, record in columns.odd.items() if start <= position < end},
        custom_fields=custom_fields if any(custom_fields or ()) else None,
        source=None,
        custom_fields_read=columns.custom_fields_read,
    )


def _named_file(frame: pl.DataFrame, file_name: str) -> pl.DataFrame:
    index = frame.get_column_index(SOURCE_FILE)
    return frame.replace_column(index, constant_column(file_name, frame.height, pl.String(), SOURCE_FILE))
