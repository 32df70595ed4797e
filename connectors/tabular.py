"""Record plumbing shared by the file parsers, and the tabular (CSV / .xlsx with a column mapping) parser.

Vendor parsers read records (JSON objects, CSV rows), map each one onto canonical values with the helpers
here, and collect them in a :class:`BatchBuilder`. A record that cannot be mapped raises :class:`RecordError`
naming the field; the builder turns it into a ``Rejection`` with file and row, so nothing is dropped silently.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl

from connectors.base import SOURCE_FILE, SOURCE_ROW, Batch, Rejection
from connectors.config import TabularFilesConfig
from servicelens.model import (
    EVENT_SCHEMA,
    INTERACTION_SCHEMA,
    UTC_DATETIME,
    Channel,
    Priority,
    Status,
    interaction_id,
)

REPLICATION_KEY = "_replication_key"  # per-row bookmark value (the source's updated_at)
_RAW_LIMIT = 2000
_TIMESTAMP_FIELDS = [name for name, dtype in INTERACTION_SCHEMA.items() if dtype == UTC_DATETIME]
_INT_FIELDS = ("reopens", "csat", "nps", "ces")


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
    other_streams: dict[str, int] = field(
        default_factory=dict
    )  # records of streams not mapped here, by stream


@dataclass
class JsonRecord:
    """One record of a JSON / JSONL export; ``error`` is set when it could not even be decoded."""

    row: int
    stream: str | None
    data: dict[str, Any] | None
    raw: str
    error: str | None = None
    page: dict[str, Any] = field(default_factory=dict)  # cursor fields of the page it came from


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
    key = str(value).strip().lower()
    for table in (overrides, builtin):
        for vendor_value, canonical in table.items():
            if vendor_value.lower() == key:
                return str(canonical)
    if fallback is not None:
        return fallback
    known = sorted({*builtin, *overrides})
    raise RecordError(field_name, f"unknown value {value!r}; map it in the config (known: {known})")


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
    """Collects mapped rows and rejections of one file into a :class:`Batch`."""

    def __init__(self, source: str, file_name: str):
        self.source = source
        self.file_name = file_name
        self.interactions: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.rejections: list[Rejection] = []

    def interaction_id(self, external_id: Any) -> str:
        return interaction_id(self.source, str(external_id))

    def add_interaction(self, row: int, values: dict[str, Any]) -> None:
        record = {name: values.get(name) for name in INTERACTION_SCHEMA}
        record["source"] = self.source
        record["external_id"] = str(values["external_id"])
        record["interaction_id"] = self.interaction_id(values["external_id"])
        record[SOURCE_FILE] = self.file_name
        record[SOURCE_ROW] = row
        record[REPLICATION_KEY] = values.get("updated_at")
        self.interactions.append(record)

    def add_event(self, row: int, external_id: Any, values: dict[str, Any]) -> None:
        record = {name: values.get(name) for name in EVENT_SCHEMA}
        record["interaction_id"] = self.interaction_id(external_id)
        record[SOURCE_FILE] = self.file_name
        record[SOURCE_ROW] = row
        self.events.append(record)

    def reject(self, row: int | None, field_name: str | None, reason: str, raw: Any = "") -> None:
        text = raw if isinstance(raw, str) else json.dumps(raw, default=str, ensure_ascii=False)
        self.rejections.append(Rejection(self.file_name, row, field_name, reason, text[:_RAW_LIMIT]))

    def build(self) -> Batch:
        interactions = pl.DataFrame(self.interactions, schema=interaction_frame_schema(), orient="row")
        events = pl.DataFrame(self.events, schema=event_frame_schema(), orient="row")
        return Batch(self.source, interactions, events, list(self.rejections))


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
    """Records of a JSON export, numbered from 1.

    JSONL (``.jsonl``/``.ndjson``): one record per line, numbered by line; Airbyte envelopes
    ``{stream, data, emitted_at}`` are unwrapped. JSON: an array, an API page holding one of ``list_keys``
    (the key becomes the stream, the other keys are kept as page info), or one object.
    """
    if path.suffix.lower() in {".jsonl", ".ndjson"}:
        with path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                if line.strip():
                    yield _json_line(number, line)
        return
    text = path.read_text(encoding="utf-8")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        yield JsonRecord(exc.lineno, None, None, text[:_RAW_LIMIT], f"not valid JSON: {exc.msg}")
        return
    stream: str | None = None
    page: dict[str, Any] = {}
    items: Any = document
    if isinstance(document, dict):
        key = next((k for k in list_keys if isinstance(document.get(k), list)), None)
        if key is not None:
            stream, items = key, document[key]
            page = {k: v for k, v in document.items() if k != key}
        elif len(document) == 1 and isinstance(next(iter(document.values())), dict):
            stream, items = next(iter(document)), list(document.values())  # {"ticket_metric": {...}}
        else:
            items = [document]
    if not isinstance(items, list):
        yield JsonRecord(1, stream, None, text[:_RAW_LIMIT], "expected an object or an array of objects")
        return
    for number, item in enumerate(items, start=1):
        raw = json.dumps(item, default=str, ensure_ascii=False)[:_RAW_LIMIT]
        if isinstance(item, dict):
            yield JsonRecord(number, stream, item, raw, page=page)
        else:
            yield JsonRecord(number, stream, None, raw, "record is not an object", page=page)


def _json_line(number: int, line: str) -> JsonRecord:
    try:
        value = json.loads(line)
    except json.JSONDecodeError as exc:
        return JsonRecord(number, None, None, line[:_RAW_LIMIT], f"not valid JSON: {exc.msg}")
    if not isinstance(value, dict):
        return JsonRecord(number, None, None, line[:_RAW_LIMIT], "line is not a JSON object")
    if isinstance(value.get("stream"), str) and isinstance(value.get("data"), dict):
        return JsonRecord(number, value["stream"], value["data"], line[:_RAW_LIMIT])
    if isinstance(value.get("record"), dict):  # Airbyte protocol message {"type": "RECORD", "record": {...}}
        inner = value["record"]
        if isinstance(inner.get("data"), dict):
            return JsonRecord(number, inner.get("stream"), inner["data"], line[:_RAW_LIMIT])
    return JsonRecord(number, None, value, line[:_RAW_LIMIT])


# --- tabular files -----------------------------------------------------------------------------------

_CANONICAL_VALUES: dict[str, set[str]] = {
    "status": {s.value for s in Status},
    "channel": {c.value for c in Channel},
    "priority": {p.value for p in Priority},
}


def read_table(path: Path, config: TabularFilesConfig) -> pl.DataFrame:
    """The file as a frame of strings (spreadsheet dates stay datetimes)."""
    if path.suffix.lower() in {".xlsx", ".xlsm", ".xls"}:
        frame = pl.read_excel(path, sheet_name=config.sheet) if config.sheet else pl.read_excel(path)
        return frame.with_columns(
            pl.col(name).cast(pl.String) for name, dtype in frame.schema.items() if not dtype.is_temporal()
        )
    return pl.read_csv(
        path,
        infer_schema=False,
        separator=config.delimiter,
        null_values=config.null_values,
        encoding="utf8-lossy",
    )


def parse_tabular_file(path: Path, config: TabularFilesConfig) -> Batch:
    """Map a CSV or .xlsx export onto canonical interactions using the column mapping of the config.

    Rows are numbered as the spreadsheet shows them (the header is row 1).
    """
    source = config.source_name
    builder = BatchBuilder(source, path.name)
    try:
        table = read_table(path, config)
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        builder.reject(None, None, f"cannot read the file: {exc}")
        return builder.build()
    missing = [
        f"{column} (for {name})" for name, column in config.mapping.items() if column not in table.columns
    ]
    if missing:
        builder.reject(None, ", ".join(missing), "column(s) not in the file header")
        return builder.build()
    try:
        zone = resolve_zone(config.time_zone)
    except RecordError as exc:
        builder.reject(None, "time_zone", exc.reason)
        return builder.build()
    table = table.with_row_index(SOURCE_ROW, offset=2)
    for row in table.iter_rows(named=True):
        try:
            builder.add_interaction(row[SOURCE_ROW], _map_tabular_row(row, config, zone))
        except RecordError as exc:
            builder.reject(row[SOURCE_ROW], exc.field, exc.reason, {k: str(v) for k, v in row.items()})
    return builder.build()


def _map_tabular_row(row: dict[str, Any], config: TabularFilesConfig, zone: ZoneInfo) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, column in config.mapping.items():
        raw = row[column]
        if isinstance(raw, str):
            raw = raw.strip()
            if raw in config.null_values:
                raw = None
        if name in config.value_maps and raw is not None:
            raw = map_value(raw, column, {}, config.value_maps[name], fallback=raw)
        if name in _TIMESTAMP_FIELDS:
            values[name] = to_utc(raw, column, zone, config.timestamp_format)
        elif name in _INT_FIELDS:
            values[name] = _int_value(raw, column)
        elif name == "tags":
            values[name] = (
                [t.strip() for t in str(raw).split(config.tags_separator) if t.strip()] if raw else []
            )
        elif name in _CANONICAL_VALUES and raw is not None:
            canonical = str(raw).strip().lower()
            if canonical not in _CANONICAL_VALUES[name]:
                allowed = sorted(_CANONICAL_VALUES[name])
                raise RecordError(column, f"{raw!r} is not a {name} ({allowed}); add it to value_maps.{name}")
            values[name] = canonical
        else:
            values[name] = id_text(raw) if name == "external_id" else text_or_none(raw)
    if values.get("external_id") is None:
        raise RecordError(config.mapping["external_id"], "empty id")
    if values.get("created_at") is None:
        raise RecordError(config.mapping["created_at"], "empty creation time")
    if values.get("updated_at") is None:
        values["updated_at"] = max(v for k, v in values.items() if k in _TIMESTAMP_FIELDS and v is not None)
    return values


def _int_value(raw: Any, column: str) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        number = float(raw)
    except (TypeError, ValueError):
        raise RecordError(column, f"{raw!r} is not a number") from None
    if not number.is_integer():
        raise RecordError(column, f"{raw!r} is not a whole number")
    return int(number)
