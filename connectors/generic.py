"""The generic import format: the canonical model as CSV, NDJSON or Parquet files.

``interactions*.{csv,ndjson,jsonl,parquet}`` hold interactions, ``events*.{...}`` their events, with exactly
the canonical column names. Row numbers in the quarantine are spreadsheet rows for CSV (the header is row 1),
line numbers for NDJSON and 1-based record positions for Parquet.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from connectors.base import SOURCE_FILE, SOURCE_ROW, Batch, Rejection, split_batch
from connectors.files import UnreadableFileError, iter_json_lines, rejection, sha256_of
from servicelens.model import EVENT_SCHEMA, INTERACTION_SCHEMA

SUFFIXES = {".csv": "csv", ".ndjson": "ndjson", ".jsonl": "ndjson", ".parquet": "parquet"}
DEFAULT_SOURCE = "generic"


@dataclass(frozen=True)
class GenericFile:
    path: Path
    kind: str  # interactions | events
    fmt: str  # csv | ndjson | parquet


def classify(path: Path) -> GenericFile | None:
    fmt = SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        return None
    stem = path.name.lower()
    if stem.startswith("interactions"):
        return GenericFile(path, "interactions", fmt)
    if stem.startswith("events"):
        return GenericFile(path, "events", fmt)
    return None


def discover(path: Path) -> list[GenericFile]:
    """The generic files at ``path`` (a file or a folder), interactions before events, in name order."""
    if not path.exists():
        raise UnreadableFileError(path, "no such file or folder")
    if path.is_file():
        found = classify(path)
        if found is None:
            raise UnreadableFileError(
                path, "not a generic import file: name it interactions.{csv,ndjson,parquet} or events.{...}"
            )
        return [found]
    files = [f for p in sorted(path.rglob("*")) if p.is_file() and (f := classify(p)) is not None]
    if not files:
        raise UnreadableFileError(
            path, "no interactions.* or events.* files (csv, ndjson, jsonl, parquet) found"
        )
    return sorted(files, key=lambda f: (f.kind != "interactions", str(f.path)))


def _check_columns(gf: GenericFile, columns: list[str]) -> None:
    allowed = set(INTERACTION_SCHEMA if gf.kind == "interactions" else EVENT_SCHEMA)
    unknown = [c for c in columns if c not in allowed]
    if unknown:
        raise UnreadableFileError(
            gf.path, f"unknown column(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
        )
    required = (
        ["external_id", "created_at"] if gf.kind == "interactions" else ["interaction_id", "at", "type"]
    )
    missing = [c for c in required if c not in columns]
    if missing:
        raise UnreadableFileError(gf.path, f"missing required column(s) {', '.join(missing)}")


def read_frame(gf: GenericFile) -> tuple[pl.DataFrame, list[Rejection]]:
    """The file's records (scalars as text, so nothing is lost to type inference) plus unparseable lines."""
    rejections: list[Rejection] = []
    try:
        if gf.fmt == "csv":
            frame = pl.read_csv(gf.path, infer_schema=False, encoding="utf8")
            frame = frame.with_columns(pl.int_range(2, pl.len() + 2, dtype=pl.Int64).alias(SOURCE_ROW))
        elif gf.fmt == "parquet":
            frame = pl.read_parquet(gf.path)
            frame = frame.with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias(SOURCE_ROW))
        else:
            records: list[dict[str, Any]] = []
            for number, obj, raw, error in iter_json_lines(gf.path):
                if obj is None:
                    rejections.append(rejection(gf.path, number, None, error or "unreadable line", raw))
                    continue
                record: dict[str, Any] = {
                    k: (v if isinstance(v, list) or v is None else str(v)) for k, v in obj.items()
                }
                record[SOURCE_ROW] = number
                records.append(record)
            frame = (
                pl.DataFrame(records, infer_schema_length=None)
                if records
                else pl.DataFrame({SOURCE_ROW: pl.Series([], dtype=pl.Int64)})
            )
    except UnreadableFileError:
        raise
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UnreadableFileError(gf.path, f"cannot read {gf.fmt}: {first_line}") from None
    if frame.height or gf.fmt != "ndjson":  # an NDJSON file of only bad lines has no columns to check
        _check_columns(gf, [c for c in frame.columns if c != SOURCE_ROW])
    return frame.with_columns(pl.lit(str(gf.path)).alias(SOURCE_FILE)), rejections


def read_batches(path: Path, source: str = DEFAULT_SOURCE) -> list[Batch]:
    """Read every generic file under ``path`` before anything is written, so an unreadable file changes nothing."""
    batches = []
    for gf in discover(path):
        frame, rejections = read_frame(gf)
        fingerprint = (str(gf.path), sha256_of(gf.path))
        if gf.kind == "interactions":
            batch = Batch(source, frame, pl.DataFrame(), rejections, file_fingerprint=fingerprint)
        else:
            batch = Batch(source, pl.DataFrame(), frame, rejections, file_fingerprint=fingerprint)
        batches.extend(split_batch(batch))
    return batches
