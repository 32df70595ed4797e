"""ServiceNow incident exports (CSV): the audit log (one row per update) and the plain incident list.

Every row becomes a candidate status event; a ``status_change`` is kept where ``incident_state`` differs from
the previous update of the same incident. The interaction takes the values of the incident's last update.
Dates are day-first (``29/2/2016 01:16`` or ``29-02-2016 01:16``) in the export's time zone; ``?`` is null.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import polars as pl

from connectors.base import SOURCE_FILE, SOURCE_ROW, Batch
from connectors.config import ServicenowCsvConfig
from connectors.parsing import REPLICATION_KEY, BatchBuilder, event_frame_schema, interaction_frame_schema
from servicelens.model import Channel, EventType, Priority, Status, interaction_id_expr

STATE_MAP: dict[str, str] = {
    "new": Status.NEW,
    "1": Status.NEW,
    "active": Status.OPEN,
    "in progress": Status.OPEN,
    "2": Status.OPEN,
    "awaiting user info": Status.PENDING,
    "awaiting caller": Status.PENDING,
    "on hold": Status.ON_HOLD,
    "3": Status.ON_HOLD,
    "awaiting problem": Status.ON_HOLD,
    "awaiting vendor": Status.ON_HOLD,
    "awaiting evidence": Status.ON_HOLD,
    "awaiting change": Status.ON_HOLD,
    "resolved": Status.SOLVED,
    "6": Status.SOLVED,
    "closed": Status.CLOSED,
    "7": Status.CLOSED,
    "canceled": Status.CLOSED,
    "cancelled": Status.CLOSED,
    "8": Status.CLOSED,
}
PRIORITY_MAP: dict[str, str] = {
    "1 - critical": Priority.URGENT,
    "1": Priority.URGENT,
    "2 - high": Priority.HIGH,
    "2": Priority.HIGH,
    "3 - moderate": Priority.NORMAL,
    "3": Priority.NORMAL,
    "4 - low": Priority.LOW,
    "4": Priority.LOW,
    "5 - planning": Priority.LOW,
    "5": Priority.LOW,
}
CHANNEL_MAP: dict[str, str] = {
    "phone": Channel.PHONE,
    "email": Channel.EMAIL,
    "self-service": Channel.WEB,
    "self service": Channel.WEB,
    "web": Channel.WEB,
    "chat": Channel.CHAT,
    "virtual agent": Channel.CHAT,
    "walk-in": Channel.OTHER,
    "social": Channel.SOCIAL,
}
TIMESTAMP_COLUMNS = ("opened_at", "sys_updated_at", "resolved_at", "closed_at")
_DAY_FIRST = ("%d-%m-%Y %H:%M:%S", "%d-%m-%Y %H:%M", "%d-%m-%Y")
_MONTH_FIRST = ("%m-%d-%Y %H:%M:%S", "%m-%d-%Y %H:%M", "%m-%d-%Y")
_ISO = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S")
_REQUIRED = ("number", "incident_state", "opened_at")


def timestamp_expr(column: str, config: ServicenowCsvConfig) -> pl.Expr:
    """A day-first (or month-first) local timestamp column as UTC; unparseable values become null."""
    text = pl.col(column).str.strip_chars().str.replace_all("/", "-")
    formats = (_DAY_FIRST if config.day_first else _MONTH_FIRST) + _ISO
    local = pl.coalesce([text.str.strptime(pl.Datetime("us"), fmt, strict=False) for fmt in formats])
    return (
        local.dt.replace_time_zone(config.time_zone, ambiguous="earliest", non_existent="null")
        .dt.convert_time_zone("UTC")
        .alias(column)
    )


def _mapped(column: str, builtin: Mapping[str, str], overrides: Mapping[str, str]) -> pl.Expr:
    table = {**builtin, **{k.lower(): str(v) for k, v in overrides.items()}}
    return (
        pl.col(column)
        .str.strip_chars()
        .str.to_lowercase()
        .replace_strict(table, default=None, return_dtype=pl.String)
    )


def parse_servicenow_csv(path: Path, config: ServicenowCsvConfig) -> Batch:
    builder = BatchBuilder(config.source_name, path.name)
    try:
        raw = pl.read_csv(path, infer_schema=False, null_values=config.null_values, encoding="utf8-lossy")
    except (pl.exceptions.PolarsError, OSError) as exc:
        builder.reject(None, None, f"cannot read the file: {exc}")
        return builder.build()
    missing = [c for c in _REQUIRED if c not in raw.columns]
    if missing:
        builder.reject(1, ", ".join(missing), "column(s) missing from the ServiceNow export header")
        return builder.build()
    optional = (
        "sys_updated_at",
        "sys_updated_by",
        "sys_mod_count",
        "location",
        "assignment_group",
        "assigned_to",
        "caller_id",
        "contact_type",
        "priority",
        "reopen_count",
        "resolved_at",
        "closed_at",
        "short_description",
    )
    raw = raw.with_columns(pl.lit(None, pl.String).alias(c) for c in optional if c not in raw.columns)
    raw = raw.with_row_index(SOURCE_ROW, offset=2)  # the header is line 1
    mapped = raw.with_columns(
        *(timestamp_expr(c, config) for c in TIMESTAMP_COLUMNS),
        _mapped("incident_state", STATE_MAP, config.status_map).alias("status"),
        _mapped("priority", PRIORITY_MAP, config.priority_map).alias("priority_mapped"),
        _mapped("contact_type", CHANNEL_MAP, config.channel_map).alias("channel"),
        pl.col("reopen_count").str.strip_chars().cast(pl.Int32, strict=False).alias("reopens"),
        pl.col("sys_mod_count").cast(pl.Int64, strict=False).alias("mod_count"),
    )
    checks: list[tuple[str, pl.Expr | pl.Series, str]] = [
        ("number", pl.col("number").is_null(), "empty incident number"),
        *(
            (
                c,
                mapped[c].is_null() & raw[c].is_not_null(),
                "not a timestamp (day-first expected)"
                if config.day_first
                else "not a timestamp (month-first expected)",
            )
            for c in TIMESTAMP_COLUMNS
        ),
        ("opened_at", pl.col("opened_at").is_null(), "empty opening time"),
        ("incident_state", pl.col("status").is_null(), "state not mapped; add it to status_map"),
        (
            "priority",
            pl.col("priority_mapped").is_null() & raw["priority"].is_not_null(),
            "priority not mapped; add it to priority_map",
        ),
        (
            "reopen_count",
            pl.col("reopens").is_null() & raw["reopen_count"].is_not_null(),
            "not a whole number",
        ),
    ]
    problem = pl.coalesce([pl.when(cond).then(pl.lit(f"{col}\t{reason}")) for col, cond, reason in checks])
    mapped = mapped.with_columns(problem.alias("_problem"))
    for row, problem_text in (
        mapped.filter(pl.col("_problem").is_not_null()).select(SOURCE_ROW, "_problem").iter_rows()
    ):
        column, reason = problem_text.split("\t")
        original = raw.row(row - 2, named=True)
        value = original.get(column)
        builder.reject(
            row,
            column,
            f"{reason}: {value!r}" if value is not None else reason,
            json.dumps(original, default=str),
        )
    good = (
        mapped.filter(pl.col("_problem").is_null())
        .with_columns(
            pl.coalesce("sys_updated_at", "opened_at").alias("updated_at"),
            pl.lit(config.source_name).alias("source"),
            pl.lit(path.name).alias(SOURCE_FILE),
        )
        .sort("number", "updated_at", "mod_count", SOURCE_ROW, nulls_last=False)
    )
    rejected = builder.build()
    return Batch(
        rejected.source,
        _interactions(good)
        .select(interaction_frame_schema().keys())
        .cast(pl.Schema(interaction_frame_schema())),
        _events(good).select(event_frame_schema().keys()).cast(pl.Schema(event_frame_schema())),
        rejected.rejections,
    )


def _interactions(updates: pl.DataFrame) -> pl.DataFrame:
    last = pl.all().last()
    latest = updates.group_by("number", maintain_order=True).agg(
        last,
        pl.col("opened_at").min().alias("created_at"),
        pl.col("updated_at").max().alias("max_updated_at"),
    )
    solved = pl.col("status").is_in([Status.SOLVED.value, Status.CLOSED.value])
    return latest.with_columns(
        interaction_id_expr(pl.col("source"), pl.col("number")),
        pl.col("number").alias("external_id"),
        pl.col("channel").fill_null(Channel.OTHER.value),
        pl.col("location"),
        pl.col("assignment_group").alias("team"),
        pl.col("assigned_to").alias("agent"),
        pl.col("caller_id").alias("customer"),
        pl.col("priority_mapped").alias("priority"),
        pl.col("short_description").alias("subject"),
        pl.lit(None, pl.Datetime("us", "UTC")).alias("first_response_at"),
        # The enriched log repeats final values on every row, so these count only once reached.
        pl.when(solved).then(pl.col("resolved_at")).alias("resolved_at"),
        pl.when(pl.col("status") == Status.CLOSED.value).then(pl.col("closed_at")).alias("closed_at"),
        pl.col("max_updated_at").alias("updated_at"),
        pl.col("max_updated_at").alias(REPLICATION_KEY),
        pl.lit(None, pl.Int8).alias("csat"),
        pl.lit(None, pl.Int8).alias("nps"),
        pl.lit(None, pl.Int8).alias("ces"),
        pl.lit([], pl.List(pl.String)).alias("tags"),
    )


def _events(updates: pl.DataFrame) -> pl.DataFrame:
    previous = pl.col("status").shift(1).over("number")
    previous_agent = pl.col("assigned_to").shift(1).over("number")
    base = updates.with_columns(interaction_id_expr(pl.col("source"), pl.col("number")))
    status_changes = base.filter(previous.is_null() | (pl.col("status") != previous)).select(
        "interaction_id",
        pl.col("updated_at").alias("at"),
        pl.lit(EventType.STATUS_CHANGE.value).alias("type"),
        "status",
        pl.col("sys_updated_by").alias("author"),
        pl.lit(None, pl.String).alias("body"),
        SOURCE_FILE,
        SOURCE_ROW,
    )
    assignments = base.filter(
        pl.col("assigned_to").is_not_null()
        & (previous_agent.is_null() | (pl.col("assigned_to") != previous_agent))
    ).select(
        "interaction_id",
        pl.col("updated_at").alias("at"),
        pl.lit(EventType.ASSIGNMENT.value).alias("type"),
        pl.lit(None, pl.String).alias("status"),
        pl.col("sys_updated_by").alias("author"),
        pl.col("assigned_to").alias("body"),
        SOURCE_FILE,
        SOURCE_ROW,
    )
    return pl.concat([status_changes, assignments]).sort("interaction_id", "at", SOURCE_ROW)
