"""Record plumbing shared by the vendor file parsers.

Parsers read records (JSON objects, CSV rows), map each one onto canonical values with the helpers here,
and collect them in a :class:`BatchBuilder`. A record that cannot be mapped raises :class:`RecordError`
naming the field; the builder turns it into a ``Rejection`` with file and row, so nothing is dropped silently.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import accumulate, chain
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl
import pyarrow as pa

from connectors.base import SOURCE_FILE, SOURCE_ROW, Batch, Rejection
from connectors.files import iter_json_lines, load_json_document
from servicelens.model import EVENT_SCHEMA, INTERACTION_SCHEMA, UTC_DATETIME, interaction_id

REPLICATION_KEY = "_replication_key"  # per-row bookmark value (the source's updated_at)
RAW_LIMIT = 2000  # characters of a source record kept with its rejection
JSON_SUFFIXES = (".json", ".jsonl", ".ndjson")


class RecordError(ValueError):
    """One record cannot be mapped; ``field`` names the offending source field."""

    def __init__(self, field: str | None, reason: str):
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}" if field else reason)


@dataclass
class ParsedFile:
    """A parsed export: canonical rows plus reference data that SLA evaluation can use later."""

    batch: Batch
    schedules: list[dict[str, Any]] = field(default_factory=list)
    sla_policies: list[dict[str, Any]] = field(default_factory=list)
    # records of streams not mapped here, by stream
    other_streams: dict[str, int] = field(default_factory=dict)


class JsonRecord:
    """One record of a JSON / JSONL export; ``error`` is set when it could not even be decoded.

    ``raw`` is the record's source text for its rejection; for records of a JSON document it is written
    from ``data`` only when asked for, since almost every record is mapped without needing it.
    """

    __slots__ = ("_raw", "data", "error", "page", "row", "stream")

    def __init__(
        self,
        row: int,
        stream: str | None,
        data: dict[str, Any] | None,
        raw: str | None = None,
        error: str | None = None,
        page: dict[str, Any] | None = None,
    ):
        self.row = row
        self.stream = stream
        self.data = data
        self._raw = raw
        self.error = error
        self.page = page if page is not None else {}  # cursor fields of the page it came from

    @property
    def raw(self) -> str:
        if self._raw is None:
            self._raw = raw_json(self.data)
        return self._raw


def raw_json(value: Any) -> str:
    """A record as the JSON text kept with its rejection (cut to ``RAW_LIMIT``)."""
    return json.dumps(value, default=str, ensure_ascii=False)[:RAW_LIMIT]


def resolve_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise RecordError(None, f"unknown time zone {name!r}") from None


def to_utc(
    value: Any, field_name: str, zone: ZoneInfo | None = None, fmt: str | None = None
) -> datetime | None:
    """A timestamp as aware UTC. Accepts ISO 8601 (``Z`` or offset), epoch seconds, or ``fmt``.

    Naive values are read in ``zone`` (UTC when not given); empty values give None.
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise RecordError(field_name, f"{value!r} is not a timestamp")
    if isinstance(value, int | float):
        # Epoch seconds; milliseconds are recognised by size (after the year 5138 in seconds).
        seconds = value / 1000 if abs(value) > 1e11 else value
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        text = value.strip()
        try:
            parsed = datetime.strptime(text, fmt) if fmt else datetime.fromisoformat(text)
        except ValueError:
            expected = f"format {fmt!r}" if fmt else "ISO 8601"
            raise RecordError(field_name, f"{value!r} is not a timestamp ({expected})") from None
    else:
        raise RecordError(field_name, f"{value!r} is not a timestamp")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone or UTC)
    return parsed.astimezone(UTC)


def map_value(
    value: Any,
    field_name: str,
    builtin: Mapping[str, str],
    overrides: Mapping[str, str],
    fallback: str | None = None,
) -> str | None:
    """Map a vendor value onto a canonical one, case-insensitively; overrides win over the built-in map.

    Unknown values raise :class:`RecordError` unless a ``fallback`` is given; empty values give None.
    """
    if value is None or value == "":
        return None
    found = _lowercase_keys(builtin, overrides).get(str(value).strip().lower())
    if found is not None:
        return found
    if fallback is not None:
        return fallback
    known = sorted({*builtin, *overrides})
    raise RecordError(field_name, f"unknown value {value!r}; map it in the config (known: {known})")


_LOWERED_LIMIT = 256
_LOWERED: dict[tuple[int, int], tuple[Mapping[str, str], Mapping[str, str], int, dict[str, str]]] = {}


def _lowercase_keys(builtin: Mapping[str, str], overrides: Mapping[str, str]) -> dict[str, str]:
    """Both maps keyed by lower-cased vendor value (overrides first, then the first entry wins).

    Built once per pair of mappings and cached by identity; the cache holds the mappings themselves so
    their ids cannot be reused, and a change of size rebuilds the entry.
    """
    size = len(builtin) + len(overrides)
    cached = _LOWERED.get((id(builtin), id(overrides)))
    if cached is not None and cached[0] is builtin and cached[1] is overrides and cached[2] == size:
        return cached[3]
    lowered: dict[str, str] = {}
    for table in (overrides, builtin):
        for vendor_value, canonical in table.items():
            lowered.setdefault(vendor_value.lower(), str(canonical))
    if len(_LOWERED) >= _LOWERED_LIMIT:  # configs reloaded by a long-running scheduler
        _LOWERED.clear()
    _LOWERED[(id(builtin), id(overrides))] = (builtin, overrides, size, lowered)
    return lowered


def text_or_none(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def id_text(value: Any) -> str | None:
    """Ids arrive as numbers or strings; canonical ids are strings without a trailing `.0`."""
    if value is None or value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


class BatchBuilder:
    """Collects mapped rows and rejections of one file into a :class:`Batch`.

    Rows are kept column by column: building a frame from per-row dicts costs more than mapping them.
    """

    def __init__(self, source: str, file_name: str):
        self.source = source
        self.file_name = file_name
        self._interaction_schema = interaction_frame_schema()
        self._event_schema = event_frame_schema()
        self.interactions: dict[str, list[Any]] = {name: [] for name in self._interaction_schema}
        self.events: dict[str, list[Any]] = {name: [] for name in self._event_schema}
        self.rejections: list[Rejection] = []
        self._prefix = interaction_id(source, "")

    def interaction_id(self, external_id: Any) -> str:
        return self._prefix + str(external_id)

    def add_interaction(self, row: int, values: dict[str, Any]) -> None:
        columns = self.interactions
        for name in INTERACTION_SCHEMA:
            columns[name].append(values.get(name))
        external_id = str(values["external_id"])
        columns["source"][-1] = self.source
        columns["external_id"][-1] = external_id
        columns["interaction_id"][-1] = self._prefix + external_id
        columns[SOURCE_FILE].append(self.file_name)
        columns[SOURCE_ROW].append(row)
        columns[REPLICATION_KEY].append(values.get("updated_at"))

    def add_event(self, row: int, external_id: Any, values: dict[str, Any]) -> None:
        columns = self.events
        for name in EVENT_SCHEMA:
            columns[name].append(values.get(name))
        columns["interaction_id"][-1] = self.interaction_id(external_id)
        columns[SOURCE_FILE].append(self.file_name)
        columns[SOURCE_ROW].append(row)

    def reject(self, row: int | None, field_name: str | None, reason: str, raw: Any = "") -> None:
        text = raw if isinstance(raw, str) else json.dumps(raw, default=str, ensure_ascii=False)
        self.rejections.append(Rejection(self.file_name, row, field_name, reason, text[:RAW_LIMIT]))

    def build(self) -> Batch:
        interactions = columns_frame(self.interactions, self._interaction_schema)
        events = columns_frame(self.events, self._event_schema)
        return Batch(self.source, interactions, events, list(self.rejections))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _column(name: str, values: list[Any], dtype: pl.DataType) -> pl.Series:
    """One column; aware datetimes and string lists take fast paths (polars converts them one by one)."""
    if isinstance(dtype, pl.Datetime):
        try:
            micros = [None if v is None else (v - _EPOCH) // _MICROSECOND for v in values]
        except TypeError:  # text or naive values: polars' own conversion
            return pl.Series(name, values, dtype=dtype)
        return pl.Series(name, micros, dtype=pl.Int64).cast(dtype)
    if isinstance(dtype, pl.List) and dtype.inner == pl.String:
        lists = [v or () for v in values]
        if all(isinstance(v, list | tuple) and all(isinstance(x, str) for x in v) for v in lists):
            offsets = pa.array(list(accumulate(map(len, lists), initial=0)), pa.int64())
            flat = pa.array(list(chain.from_iterable(lists)), pa.large_string())
            series = pl.Series(name, pa.LargeListArray.from_arrays(offsets, flat))
            return series.cast(dtype)
    return pl.Series(name, values, dtype=dtype)


def columns_frame(columns: Mapping[str, list[Any]], schema: Mapping[str, pl.DataType]) -> pl.DataFrame:
    """A frame of the given schema from one list of Python values per column."""
    return pl.DataFrame([_column(name, columns[name], dtype) for name, dtype in schema.items()])


def interaction_frame_schema() -> dict[str, pl.DataType]:
    return {
        **INTERACTION_SCHEMA,
        SOURCE_FILE: pl.String(),
        SOURCE_ROW: pl.Int64(),
        REPLICATION_KEY: UTC_DATETIME,
    }


def event_frame_schema() -> dict[str, pl.DataType]:
    return {**EVENT_SCHEMA, SOURCE_FILE: pl.String(), SOURCE_ROW: pl.Int64()}


def read_json_records(path: Path, list_keys: tuple[str, ...]) -> Iterator[JsonRecord]:
    """Records of a JSON export, numbered from 1 within their stream (JSON) or by line (JSONL).

    JSONL (``.jsonl``/``.ndjson``): one record per line; Airbyte envelopes ``{stream, data, emitted_at}``
    and protocol messages ``{"type": "RECORD", "record": {...}}`` are unwrapped. JSON: an array, an API
    page, or one object. A page yields the records of *every* list among ``list_keys`` (an incremental
    export page carries its sideloads beside ``tickets``), each list as its own stream; the page's other
    members (cursors, ``end_of_stream``) are kept as page info. A file that is not JSON at all raises
    :class:`connectors.files.UnreadableFileError` naming the file, line and column.
    """
    for chunk in read_json_chunks(path, list_keys, whole_lists=()):
        assert isinstance(chunk, JsonRecord)  # no list is asked for whole
        yield chunk


@dataclass(frozen=True)
class JsonList:
    """One list of a JSON page handed over whole (see :func:`read_json_chunks`); its items are numbered
    from 1 and belong to the stream ``key``, exactly as :func:`read_json_records` would yield them."""

    key: str
    items: list[Any]
    page: dict[str, Any]


def read_json_chunks(
    path: Path, list_keys: tuple[str, ...], whole_lists: tuple[str, ...]
) -> Iterator[JsonRecord | JsonList]:
    """What :func:`read_json_records` yields, in the same order, except that each list of a JSON page named
    in ``whole_lists`` comes as one :class:`JsonList`: a column-wise parser reads its items without one
    :class:`JsonRecord` each."""
    if path.suffix.lower() in {".jsonl", ".ndjson"}:
        for number, value, line, error in iter_json_lines(path):
            yield _json_line(number, value, line, error)
        return
    document = load_json_document(path)
    if isinstance(document, list):
        yield from _items(document, None, {})
        return
    if not isinstance(document, dict):
        yield JsonRecord(1, None, None, raw_json(document), "expected an object or an array of objects")
        return
    lists = [key for key in document if key in list_keys and isinstance(document[key], list)]
    if lists:
        page = {k: v for k, v in document.items() if not isinstance(v, list)}
        for key in lists:
            if key in whole_lists:
                yield JsonList(key, document[key], page)
            else:
                yield from _items(document[key], key, page)
    elif len(document) == 1 and isinstance(next(iter(document.values())), dict):
        yield from _items(list(document.values()), next(iter(document)), {})  # {"ticket_metric": {...}}
    else:
        yield from _items([document], None, {})


def _items(items: list[Any], stream: str | None, page: dict[str, Any]) -> Iterator[JsonRecord]:
    for number, item in enumerate(items, start=1):
        if isinstance(item, dict):
            yield JsonRecord(number, stream, item, page=page)
        else:
            yield JsonRecord(number, stream, None, raw_json(item), "record is not an object", page=page)


def _json_line(number: int, value: dict[str, Any] | None, line: str, error: str | None) -> JsonRecord:
    raw = line[:RAW_LIMIT]
    if value is None:
        return JsonRecord(number, None, None, raw, error or "unreadable line")
    if isinstance(value.get("stream"), str) and isinstance(value.get("data"), dict):
        return JsonRecord(number, value["stream"], value["data"], raw)
    if isinstance(value.get("record"), dict):  # Airbyte protocol message {"type": "RECORD", "record": {...}}
        inner = value["record"]
        if isinstance(inner.get("data"), dict):
            return JsonRecord(number, inner.get("stream"), inner["data"], raw)
    return JsonRecord(number, None, value, raw)


SURVEY_RANGES = {"nps": (0, 10), "ces": (1, 7)}


def survey_score(value: Any, field_name: str, score: str) -> int | None:
    """A survey answer as a whole number within the score's range (``SURVEY_RANGES``); empty gives None.

    Answers arrive as numbers or as text (text custom fields); anything else raises :class:`RecordError`
    naming ``field_name``, so the ticket is quarantined rather than its score silently dropped.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    low, high = SURVEY_RANGES[score]
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or not number.is_integer():
        raise RecordError(field_name, f"{score.upper()} answer {value!r} is not a whole number")
    if not low <= number <= high:
        raise RecordError(field_name, f"{score.upper()} answer {value!r} is outside {low}-{high}")
    return int(number)
