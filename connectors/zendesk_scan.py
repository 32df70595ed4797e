"""Which files of a Zendesk export folder can tell the other files anything, found without decoding them.

The folder's context (:mod:`connectors.zendesk_context`) is read from the users, groups, organizations,
ticket metrics and satisfaction ratings streams, and the audits and comments streams need the folder's
ticket ids and requesters. A file none of these streams can come from (a plain page of tickets) only adds
its own tickets: its own parse decodes it, off the critical path.

A record's stream comes from the list holding it, from its envelope's ``stream``, or, for a record of no
stream, from some of its keys (``events``, ``reply_time_in_minutes``, ``score``). All of these are JSON
strings, so a file whose text holds none of them followed by the quote closing a string, and no ``\\u``
escape that could spell one of their letters, holds none of these streams. The keys that classify records
of no stream are allowed in an export page whose first member is the one ``tickets`` list: every record of
a page takes its stream from its list. Anything unsure (a file that cannot be read or is not UTF-8) counts
as telling something.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl

# Endings of the names of the streams the context reads or that read it: groups, organizations, users,
# ticket_metric(s), metric_sets, satisfaction_ratings, (ticket_)audits, (ticket_)comments.
_STREAM_WORDS = (
    "users",
    "groups",
    "organizations",
    "metric",
    "metrics",
    "metric_sets",
    "ratings",
    "audits",
    "comments",
)
# Keys that make a record of no stream an audit, a metric or a rating.
_RECORD_KEYS = ("events", "reply_time_in_minutes", "score")
# A word followed by the quote closing its string, or an escape of a character from U+0040 to U+007F
# (every letter and the underscore), which a name could be spelled with.
_STREAM_PATTERN = "(?:" + "|".join(_STREAM_WORDS) + r')"|\\u00[4-7]'
_RECORD_KEY_PATTERN = "(?:" + "|".join(_RECORD_KEYS) + ')"'
_PAGE_START = r'^[ \t\r\n]*\{[ \t\r\n]*"tickets"[ \t\r\n]*:[ \t\r\n]*\['
_TICKETS_KEY = r'"tickets"[ \t\r\n]*:'  # a second one could replace the list
# Texts searched in one call: few calls, and a bounded amount of text in memory at once.
_CHUNK_BYTES = 16 * 1024 * 1024


def files_informing_context(paths: list[Path]) -> list[bool]:
    """For each file, whether it may hold a stream the folder's context reads or that reads it."""
    informs: list[bool] = []
    for chunk in _text_chunks(paths):
        readable = [(path, text) for path, text in chunk if text is not None]
        files = pl.DataFrame(
            {
                "text": pl.Series([text for _, text in readable], dtype=pl.String),
                "document": pl.Series(
                    [path.suffix.lower() == ".json" for path, _ in readable], dtype=pl.Boolean
                ),
            }
        )
        text = pl.col("text")
        page = pl.col("document") & text.str.contains(_PAGE_START)
        page = page & (text.str.count_matches(_TICKETS_KEY) == 1)
        found = files.select(
            text.str.contains(_STREAM_PATTERN) | (text.str.contains(_RECORD_KEY_PATTERN) & ~page)
        ).to_series()
        answers = iter(found.to_list())
        informs.extend(True if text is None else bool(next(answers)) for _, text in chunk)
    return informs


def _text_chunks(paths: list[Path]) -> Iterator[list[tuple[Path, str | None]]]:
    """The files with their texts (None for a file that cannot be read as UTF-8), a chunk at a time."""
    chunk: list[tuple[Path, str | None]] = []
    size = 0
    for path in paths:
        try:
            text: str | None = path.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError):
            text = None
        chunk.append((path, text))
        size += len(text or "")
        if size >= _CHUNK_BYTES:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk
