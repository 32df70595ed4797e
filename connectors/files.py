"""Reading dropped files safely: fingerprints, settle time, and record-level JSON parsing."""

from __future__ import annotations

import gc
import hashlib
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from connectors.base import Rejection

DEFAULT_SETTLE_SECONDS = 10.0


class UnreadableFileError(Exception):
    """A file that cannot be read at all: the run fails and nothing is written."""

    def __init__(self, path: Path | str, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_still_being_written(
    path: Path, settle_seconds: float = DEFAULT_SETTLE_SECONDS, now: float | None = None
) -> bool:
    """A recently modified file whose last line is unterminated is assumed to be mid-write."""
    stat = path.stat()
    if stat.st_size == 0:
        return (now or time.time()) - stat.st_mtime < settle_seconds
    with path.open("rb") as handle:
        handle.seek(-1, 2)
        ends_with_newline = handle.read(1) == b"\n"
    return not ends_with_newline and (now or time.time()) - stat.st_mtime < settle_seconds


def decode_json(text: str) -> Any:
    """orjson's speed with the standard library's answer for anything orjson refuses (NaN, malformed JSON):
    ``json.loads`` accepts the same documents and raises the same :class:`json.JSONDecodeError` (message,
    line, column) as before. Integers beyond 64 bits, which no helpdesk uses for ids, are read as floats."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def iter_json_lines(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, str, str | None]]:
    """(line number, parsed object or None, raw line, error) for each non-blank line of an NDJSON file."""
    try:
        handle = path.open("r", encoding="utf-8")
    except OSError as exc:
        raise UnreadableFileError(path, f"cannot open: {exc.strerror or exc}") from None
    with handle:
        try:
            for number, line in enumerate(handle, start=1):
                text = line.strip()
                if not text:
                    continue
                try:
                    obj = decode_json(text)
                except json.JSONDecodeError as exc:
                    yield number, None, text, f"not valid JSON: {exc.msg} at column {exc.colno}"
                    continue
                if not isinstance(obj, dict):
                    yield number, None, text, "expected a JSON object on each line"
                    continue
                yield number, obj, text, None
        except UnicodeDecodeError as exc:
            raise UnreadableFileError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a document is decoded (and, for callers that wrap
    more, while its records are read).

    A decode creates tens of thousands of dicts and lists and no reference cycles, yet every few hundred
    of them start a collection pass, and some of those walk every tracked object of the process: pausing
    it makes a page decode two to three times faster. Objects are still freed by reference counting; the
    collector is restored even on error, and left off if it already was.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def load_json_document(path: Path) -> Any:
    """A whole JSON file (an API response body, an export page).

    orjson decodes the file's bytes directly; what it refuses (a byte order mark, text that is not UTF-8, NaN,
    malformed JSON) is decoded as text, so it is read, or refused with file, line and column, exactly as
    ``json`` reads it. Both routes give the same document: line ends only ever differ in whitespace.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableFileError(path, f"cannot open: {exc.strerror or exc}") from None
    try:
        with cyclic_gc_paused():
            return orjson.loads(data)
    except orjson.JSONDecodeError:
        pass
    try:
        # Universal newlines, as a file opened in text mode reads: the error's line numbers match the editor's.
        text = data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    except UnicodeDecodeError as exc:
        raise UnreadableFileError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        with cyclic_gc_paused():
            return decode_json(text)
    except json.JSONDecodeError as exc:
        raise UnreadableFileError(
            path, f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None


def rejection(path: Path, row: int | None, field: str | None, reason: str, raw: str = "") -> Rejection:
    return Rejection(file=str(path), row=row, field=field, reason=reason, raw=raw)
