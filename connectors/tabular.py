"""The tabular parser: any CSV or .xlsx export read through a column mapping from the config.

The shared record plumbing lives in :mod:`connectors.parsing`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from connectors.base import SOURCE_ROW, Batch
from connectors.config import TabularFilesConfig
from connectors.parsing import (
    BatchBuilder,
    RecordError,
    id_text,
    map_value,
    resolve_zone,
    text_or_none,
    to_utc,
)
from servicelens.model import INTERACTION_SCHEMA, UTC_DATETIME, Channel, Priority, Status

_TIMESTAMP_FIELDS = [name for name, dtype in INTERACTION_SCHEMA.items() if dtype == UTC_DATETIME]
_INT_FIELDS = ("reopens", "csat", "nps", "ces")

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
