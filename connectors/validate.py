"""Row validation: coerce mapped records to the canonical schema; every failing row goes to quarantine.

Each rule names a field and a reason, so a user can find and repair the row. A row with several problems
gets one quarantine record per problem. Rows that pass are returned in INTERACTION_SCHEMA / EVENT_SCHEMA.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from connectors.base import SOURCE_FILE, SOURCE_ROW, Batch, Rejection
from servicelens.model import (
    EVENT_SCHEMA,
    INTERACTION_SCHEMA,
    UTC_DATETIME,
    Channel,
    EventType,
    Priority,
    Status,
)

QUARANTINE_SCHEMA: dict[str, pl.DataType] = {
    "record_kind": pl.String(),
    "file": pl.String(),
    "row": pl.Int64(),
    "field": pl.String(),
    "reason": pl.String(),
    "raw": pl.String(),
}

_TZ_SUFFIX = r"(?:[+-]\d{2}:?\d{2})$"
_TS_FORMAT = "%Y-%m-%dT%H:%M:%S%.f%z"
_TS_FORMAT_UTC = "%Y-%m-%dT%H:%M:%S%.fZ"
_SCORE_RANGES = {"csat": (1, 5), "nps": (0, 10), "ces": (1, 7)}
_INT32_MAX = 2**31 - 1  # reopens is stored as a 32-bit integer


@dataclass
class ValidatedBatch:
    interactions: pl.DataFrame  # INTERACTION_SCHEMA
    events: pl.DataFrame  # EVENT_SCHEMA
    quarantine: pl.DataFrame  # QUARANTINE_SCHEMA
    read: int  # interaction records read (rows + unmappable records)

    @property
    def quarantined_rows(self) -> int:
        """Distinct interaction rows quarantined (a row with two problems counts once)."""
        q = self.quarantine.filter(pl.col("record_kind").is_in(["interaction", "record"]))
        return q.select(pl.struct("file", "row").n_unique()).item() if q.height else 0


def _prepare_timestamps(raw: pl.DataFrame, names: list[str]) -> tuple[pl.DataFrame, set[str]]:
    """Normalise and parse each text timestamp column once (``__norm_X``, ``__parsed_X``).

    Also returns the columns whose every value parsed as plain ISO 8601 UTC (``...T...Z``, the form
    almost every export uses): those skip the normalising regexes and the naive/bad checks.
    """
    text_cols = [
        n
        for n in names
        if n in raw.schema and raw.schema[n] not in (pl.Null,) and not isinstance(raw.schema[n], pl.Datetime)
    ]
    if not text_cols:
        return raw, set()
    raw = raw.with_columns(**{f"__norm_{name}": _text(name, raw) for name in text_cols})
    raw = raw.with_columns(
        **{
            f"__parsed_{name}": pl.col(f"__norm_{name}").str.to_datetime(
                _TS_FORMAT_UTC, strict=False, time_unit="us", time_zone="UTC", cache=False
            )
            for name in text_cols
        }
    )
    unparsed = raw.select(
        **{
            name: (pl.col(f"__norm_{name}").is_not_null() & pl.col(f"__parsed_{name}").is_null()).any()
            for name in text_cols
        }
    ).row(0, named=True)
    slow = [name for name in text_cols if unparsed[name]]
    if slow:
        norms = {
            f"__norm_{name}": pl.col(f"__norm_{name}")
            .str.replace(r"^(\d{4}-\d{2}-\d{2})[ ]", "${1}T")
            .str.replace(r"(?i)Z$", "+00:00")
            for name in slow
        }
        raw = raw.with_columns(**norms).with_columns(
            **{
                f"__parsed_{name}": pl.col(f"__norm_{name}").str.to_datetime(
                    _TS_FORMAT, strict=False, time_unit="us", time_zone="UTC", cache=False
                )
                for name in slow
            }
        )
    return raw, {name for name in text_cols if not unparsed[name]}


def _timestamp(name: str, raw: pl.DataFrame, fully_parsed: set[str]) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """(parsed UTC value, is-unparseable, is-timezone-less) for a timestamp column of any input dtype.

    Text columns must have been through :func:`_prepare_timestamps` (``fully_parsed`` is its answer).
    """
    dtype = raw.schema.get(name)
    col = pl.col(name)
    if dtype is None or dtype == pl.Null:
        nothing = pl.lit(None, dtype=UTC_DATETIME)
        return nothing, pl.lit(False), pl.lit(False)
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is None:
            return pl.lit(None, dtype=UTC_DATETIME), pl.lit(False), col.is_not_null()
        return col.dt.convert_time_zone("UTC").cast(UTC_DATETIME), pl.lit(False), pl.lit(False)
    norm, parsed = pl.col(f"__norm_{name}"), pl.col(f"__parsed_{name}")
    if name in fully_parsed:
        return parsed, pl.lit(False), pl.lit(False)
    naive = (
        norm.is_not_null()
        & parsed.is_null()
        & ~norm.str.contains(_TZ_SUFFIX)
        & norm.str.contains(r"^\d{4}-\d{2}-\d{2}")
    )
    bad = norm.is_not_null() & parsed.is_null() & ~naive
    return parsed, bad, naive


def _prepare_integers(raw: pl.DataFrame, names: list[str]) -> tuple[pl.DataFrame, set[str]]:
    """Trim each text column of whole numbers and read it as Int64 once (``__itext_X``, ``__int_X``): eager
    calls share no subexpressions. Also returns the columns whose every value is plain digits, which need no
    float parse."""
    text_cols = [
        n
        for n in names
        if n in raw.schema and raw.schema[n] not in (pl.Null,) and not raw.schema[n].is_integer()
    ]
    if not text_cols:
        return raw, set()
    raw = raw.with_columns(**{f"__itext_{name}": _text(name, raw) for name in text_cols}).with_columns(
        **{f"__int_{name}": pl.col(f"__itext_{name}").cast(pl.Int64, strict=False) for name in text_cols}
    )
    not_whole = raw.select(
        **{
            name: (pl.col(f"__int_{name}").is_null() & pl.col(f"__itext_{name}").is_not_null()).any()
            for name in text_cols
        }
    ).row(0, named=True)
    return raw, {name for name in text_cols if not not_whole[name]}


def _integer(name: str, raw: pl.DataFrame, whole_only: set[str]) -> tuple[pl.Expr, pl.Expr]:
    """(value as Int64, is-not-an-integer). Text columns must have been through :func:`_prepare_integers`
    (``whole_only`` is its answer)."""
    dtype = raw.schema.get(name)
    if dtype is None or dtype == pl.Null:
        return pl.lit(None, dtype=pl.Int64), pl.lit(False)
    if dtype.is_integer():
        return pl.col(name).cast(pl.Int64), pl.lit(False)
    text, whole = pl.col(f"__itext_{name}"), pl.col(f"__int_{name}")
    if name in whole_only:
        return whole, pl.lit(False)  # every value is plain digits: no float parse needed
    as_float = text.cast(pl.Float64, strict=False)
    value = as_float.cast(pl.Int64, strict=False)
    # Not a number, a fraction, or beyond 64 bits (infinity included: it fails the cast to Int64).
    bad = text.is_not_null() & (value.is_null() | (as_float != as_float.round(0)))
    return value, bad


def _text(name: str, raw: pl.DataFrame) -> pl.Expr:
    if name not in raw.schema or raw.schema[name] == pl.Null:
        return pl.lit(None, dtype=pl.String)
    text = pl.col(name).cast(pl.String).str.strip_chars()
    return pl.when(text == "").then(None).otherwise(text)


def _shared_texts(
    raw: pl.DataFrame, names: list[str], lowercase: set[str]
) -> tuple[pl.DataFrame, dict[str, pl.Expr]]:
    """:func:`_text` of each named column (lowercased for ``lowercase``) computed once, as a column that
    several values and checks then read: eager calls do not share common subexpressions."""
    shared = {name: _text(name, raw) for name in names}
    shared = {name: e.str.to_lowercase() if name in lowercase else e for name, e in shared.items()}
    computed = {name: e for name, e in shared.items() if name in raw.schema and raw.schema[name] != pl.Null}
    raw = raw.with_columns(**{f"__text_{name}": e for name, e in computed.items()})
    return raw, {name: pl.col(f"__text_{name}") if name in computed else shared[name] for name in names}


def _is_missing(name: str, raw: pl.DataFrame) -> pl.Expr:
    """Whether :func:`_text` of a timestamp column is null, after :func:`_prepare_timestamps` (which
    keeps the trimmed text of every column it parses): a datetime column never holds empty text."""
    dtype = raw.schema.get(name)
    if dtype is None or dtype == pl.Null:
        return pl.lit(True)
    if isinstance(dtype, pl.Datetime):
        return pl.col(name).is_null()
    return pl.col(f"__norm_{name}").is_null()


def _tags(raw: pl.DataFrame) -> pl.Expr:
    dtype = raw.schema.get("tags")
    if dtype is None or dtype == pl.Null:
        return pl.lit([], dtype=pl.List(pl.String))
    if isinstance(dtype, pl.List):
        return pl.col("tags").cast(pl.List(pl.String)).fill_null([])
    split = pl.col("tags").cast(pl.String).fill_null("").str.replace_all(",", "|").str.split("|")
    return split.list.eval(pl.element().str.strip_chars().filter(pl.element() != ""))


def _raw_json(raw: pl.DataFrame, columns: list[str]) -> pl.Expr:
    keep = [c for c in columns if c in raw.columns]
    return pl.struct(
        [
            pl.col(c).cast(pl.List(pl.String))
            if isinstance(raw.schema[c], pl.List)
            else pl.col(c).cast(pl.String)
            for c in keep
        ]
    ).struct.json_encode()


def _collect_problems(frame: pl.DataFrame, checks: list[tuple[str, pl.Expr, str]], kind: str) -> pl.DataFrame:
    """One quarantine record per failed check; ``frame`` holds only the rows that failed some check."""
    if frame.is_empty():
        return pl.DataFrame(schema=QUARANTINE_SCHEMA)
    parts = [
        frame.filter(cond).select(
            pl.lit(kind).alias("record_kind"),
            pl.col(SOURCE_FILE).alias("file"),
            pl.col(SOURCE_ROW).cast(pl.Int64).alias("row"),
            pl.lit(field).alias("field"),
            reason.alias("reason") if isinstance(reason, pl.Expr) else pl.lit(reason).alias("reason"),
            pl.col("_raw").alias("raw"),
        )
        for field, cond, reason in checks
    ]
    parts = [p for p in parts if p.height]
    return pl.concat(parts) if parts else pl.DataFrame(schema=QUARANTINE_SCHEMA)


def _ensure_provenance(frame: pl.DataFrame, default_file: str) -> pl.DataFrame:
    extra = []
    if SOURCE_FILE not in frame.columns:
        extra.append(pl.lit(default_file).alias(SOURCE_FILE))
    if SOURCE_ROW not in frame.columns:
        extra.append(pl.int_range(1, pl.len() + 1).alias(SOURCE_ROW))
    return frame.with_columns(extra) if extra else frame


def validate_interactions(raw: pl.DataFrame, source: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Valid rows in INTERACTION_SCHEMA, and quarantine records for the rest."""
    if raw.is_empty():
        return pl.DataFrame(schema=INTERACTION_SCHEMA), pl.DataFrame(schema=QUARANTINE_SCHEMA)
    raw = _ensure_provenance(raw, "<batch>")
    raw_cols = [c for c in raw.columns if c not in (SOURCE_FILE, SOURCE_ROW)]
    ts_names = ["created_at", "first_response_at", "resolved_at", "closed_at", "updated_at"]
    raw, fully_parsed = _prepare_timestamps(raw, ts_names)
    enums = {"channel", "priority", "status"}
    raw, text = _shared_texts(raw, ["source", "external_id", "interaction_id", *sorted(enums)], enums)
    values: dict[str, pl.Expr] = {}
    checks: list[tuple[str, pl.Expr, str]] = []

    src = text["source"].fill_null(pl.lit(source))
    ext = text["external_id"]
    values["source"], values["external_id"] = src, ext
    values["interaction_id"] = pl.concat_str([src, pl.lit(":"), ext])
    checks.append(("external_id", ext.is_null(), "missing external id"))
    # interaction_id = source:external_id is unique only while no source contains the separator.
    checks.append(("source", src.str.contains(":", literal=True), "source must not contain ':'"))
    given_id = text["interaction_id"]
    checks.append(
        (
            "interaction_id",
            given_id.is_not_null() & ext.is_not_null() & (given_id != pl.concat_str([src, pl.lit(":"), ext])),
            "interaction_id must be source:external_id",
        )
    )

    for name in ts_names:
        parsed, bad, naive = _timestamp(name, raw, fully_parsed)
        values[name] = parsed
        checks.append((name, bad, "not a timestamp (expected ISO 8601 with a UTC offset)"))
        checks.append((name, naive, "timestamp has no time zone (add Z or an offset such as +01:00)"))
    checks.append(
        (
            "created_at",
            values["created_at"].is_null() & _is_missing("created_at", raw),
            "missing created_at",
        )
    )
    # Without an explicit updated_at, the latest known timestamp stands for the version of the row.
    values["updated_at"] = pl.coalesce(
        values["updated_at"], pl.max_horizontal([values[n] for n in ts_names[:4]])
    )
    for name, label in (
        ("first_response_at", "first response"),
        ("resolved_at", "resolved"),
        ("closed_at", "closed"),
    ):
        checks.append((name, values[name] < values["created_at"], f"{label} before created"))

    for name, enum, default in (("channel", Channel, "other"), ("priority", Priority, "normal")):
        allowed = [e.value for e in enum]
        values[name] = text[name].fill_null(pl.lit(default))
        checks.append(
            (
                name,
                text[name].is_not_null() & ~text[name].is_in(allowed),
                f"unknown {name} (allowed: {', '.join(allowed)})",
            )
        )
    status = text["status"]
    values["status"] = status
    statuses = [s.value for s in Status]
    checks.append(
        (
            "status",
            status.is_not_null() & ~status.is_in(statuses),
            f"unknown status (allowed: {', '.join(statuses)})",
        )
    )

    raw, whole_only = _prepare_integers(raw, ["reopens", *_SCORE_RANGES])
    reopens, bad_reopens = _integer("reopens", raw, whole_only)
    values["reopens"] = reopens.fill_null(0)
    checks.append(
        (
            "reopens",
            bad_reopens | (reopens < 0) | (reopens > _INT32_MAX),
            f"reopens must be a whole number from 0 to {_INT32_MAX}",
        )
    )
    for name, (low, high) in _SCORE_RANGES.items():
        value, bad = _integer(name, raw, whole_only)
        values[name] = value
        checks.append(
            (name, bad | (value < low) | (value > high), f"{name} must be a whole number {low}-{high}")
        )

    for name in ("location", "team", "agent", "customer", "subject"):
        values[name] = _text(name, raw)
    values["tags"] = _tags(raw)

    checks = [(f, c.fill_null(False), r) for f, c, r in checks]
    frame = raw.with_columns(
        **{f"__{k}": v for k, v in values.items()},
        **{f"__bad_{i}": c for i, (_, c, _) in enumerate(checks)},
    )
    any_bad = pl.any_horizontal([pl.col(f"__bad_{i}") for i in range(len(checks))])
    frame = frame.with_columns(__any_bad=any_bad)
    failing = frame.filter(pl.col("__any_bad"))
    # The source row as JSON, written only for the rows that go to the quarantine.
    problems = _collect_problems(
        failing.with_columns(_raw=_raw_json(failing, raw_cols)),
        [(f, pl.col(f"__bad_{i}"), r) for i, (f, _, r) in enumerate(checks)],
        "interaction",
    )
    # Select before filtering: the filter then copies only the canonical columns, not the raw ones.
    # Not strict: the rows failing a range check are still here (dropped below), and a value out of its
    # type's range must not fail the whole batch; every row kept passed the checks that keep it in range.
    canonical = [
        pl.col(f"__{name}").cast(dtype, strict=False).alias(name)
        for name, dtype in INTERACTION_SCHEMA.items()
    ]
    valid = frame.select(*canonical, "__any_bad")
    valid = (valid.filter(~pl.col("__any_bad")) if failing.height else valid).drop("__any_bad")
    return valid, problems


def validate_events(raw: pl.DataFrame, source: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Valid events in EVENT_SCHEMA, and quarantine records for the rest."""
    if raw.is_empty():
        return pl.DataFrame(schema=EVENT_SCHEMA), pl.DataFrame(schema=QUARANTINE_SCHEMA)
    raw = _ensure_provenance(raw, "<batch>")
    raw_cols = [c for c in raw.columns if c not in (SOURCE_FILE, SOURCE_ROW)]
    raw, fully_parsed = _prepare_timestamps(raw.with_columns(_raw=_raw_json(raw, raw_cols)), ["at"])
    at, bad_at, naive_at = _timestamp("at", raw, fully_parsed)
    kind = _text("type", raw).str.to_lowercase()
    status = _text("status", raw).str.to_lowercase()
    iid = _text("interaction_id", raw)
    types = [t.value for t in EventType]
    statuses = [s.value for s in Status]
    checks: list[tuple[str, pl.Expr, str]] = [
        ("interaction_id", iid.is_null(), "missing interaction_id"),
        ("at", bad_at, "not a timestamp (expected ISO 8601 with a UTC offset)"),
        ("at", naive_at, "timestamp has no time zone (add Z or an offset such as +01:00)"),
        ("at", at.is_null() & ~bad_at & ~naive_at, "missing at"),
        ("type", ~kind.is_in(types) | kind.is_null(), f"unknown event type (allowed: {', '.join(types)})"),
        (
            "status",
            (kind == "status_change") & (status.is_null() | ~status.is_in(statuses)),
            f"status_change needs a status (allowed: {', '.join(statuses)})",
        ),
    ]
    frame = raw.with_columns(
        __interaction_id=iid,
        __at=at,
        __type=kind,
        __status=status,
        __author=_text("author", raw),
        __body=pl.col("body").cast(pl.String) if "body" in raw.columns else pl.lit(None, dtype=pl.String),
    )
    checks = [(f, c.fill_null(False), r) for f, c, r in checks]
    frame = frame.with_columns(**{f"__bad_{i}": c for i, (_, c, _) in enumerate(checks)})
    any_bad = pl.any_horizontal([pl.col(f"__bad_{i}") for i in range(len(checks))])
    problems = _collect_problems(
        frame.filter(any_bad), [(f, pl.col(f"__bad_{i}"), r) for i, (f, _, r) in enumerate(checks)], "event"
    )
    valid = frame.filter(~any_bad).select(
        [pl.col(f"__{name}").cast(dtype).alias(name) for name, dtype in EVENT_SCHEMA.items()]
    )
    # Keep provenance so events of unknown interactions can be quarantined at load time.
    valid = valid.with_columns(frame.filter(~any_bad).select(SOURCE_FILE, SOURCE_ROW, "_raw"))
    return valid, problems


def rejections_frame(rejections: list[Rejection]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "record_kind": ["record"] * len(rejections),
            "file": [r.file for r in rejections],
            "row": [r.row for r in rejections],
            "field": [r.field for r in rejections],
            "reason": [r.reason for r in rejections],
            "raw": [r.raw for r in rejections],
        },
        schema=QUARANTINE_SCHEMA,
    )


def validate_batch(batch: Batch) -> ValidatedBatch:
    # Merged files arrive as one chunk per file: copied into one chunk first, the frames validate and
    # hash with a third less CPU than chunk by chunk.
    interactions, bad_interactions = validate_interactions(batch.interactions.rechunk(), batch.source)
    events, bad_events = validate_events(batch.events.rechunk(), batch.source)
    quarantine = pl.concat([bad_interactions, bad_events, rejections_frame(batch.rejections)])
    return ValidatedBatch(interactions, events, quarantine, read=batch.record_count)
