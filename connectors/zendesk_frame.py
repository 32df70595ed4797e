"""Zendesk tickets mapped onto canonical interactions column by column, with polars expressions.

:func:`map_ticket_columns` gives, for every ticket it can map exactly, the row that
:func:`connectors.zendesk.map_ticket` gives; a ticket it cannot (odd JSON types, or a value the per-ticket
mapping rejects: unknown status or priority, bad timestamp, bad survey answer...) is left to that mapping,
so results and rejections stay the same. Rules on single values (status, priority, channel, names,
satisfaction) are applied once per distinct value with the per-ticket functions themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import lru_cache, partial
from typing import Any

import polars as pl

from connectors.base import SOURCE_FILE, SOURCE_ROW
from connectors.parsing import (
    REPLICATION_KEY,
    JsonRecord,
    interaction_frame_schema,
    text_or_none,
)
from connectors.zendesk_columns import TicketColumns
from connectors.zendesk_context import ZendeskContext
from connectors.zendesk_fields import (
    ZendeskOptions,
    channel_of,
    csat_from_score,
    custom_field_value,
    is_deleted,
    priority_of,
    survey_answer,
    ticket_status,
)
from connectors.zendesk_values import (
    constant_column,
    int_column,
    map_distinct,
    stripped_text,
    text_column,
    utc_column,
    utc_from_texts,
)
from servicelens.model import Status, interaction_id

# Reply times beyond this many minutes (19 years), or creation times outside these years, are added by
# the per-ticket mapping, which fails as datetime fails when the sum leaves its range.
_MAX_REPLY_MINUTES = 10_000_000
_SAFE_CREATION = (datetime(1000, 1, 1, tzinfo=UTC), datetime(9000, 1, 1, tzinfo=UTC))
_INT32 = (-(2**31), 2**31 - 1)


def map_ticket_columns(
    columns: TicketColumns, options: ZendeskOptions, context: ZendeskContext, file_name: str
) -> tuple[pl.DataFrame, list[int]]:
    """Interactions of the tickets mapped here (``interaction_frame_schema``), and the positions of the
    tickets left to the per-ticket mapping, in file order."""
    raw = dict(zip(columns.frame.columns, columns.frame.get_columns(), strict=True))
    height = columns.height
    left: set[int] = set(columns.odd)
    names = context.names
    external_id = raw["id"].cast(pl.String)
    created_at, updated_at = utc_from_texts(
        columns.frame, {"created_at": "created_at", "updated_at": "updated_at"}, left
    )
    reply_minutes, resolved_at, reopens = _metric_columns(external_id, created_at, context.metrics, left)
    mapped = {
        "external_id": external_id,
        "channel": map_distinct(raw["channel"], partial(channel_of, options=options), pl.String()),
        "location": _location(raw["organization_id"], columns.custom_fields, options, context, left),
        "team": map_distinct(raw["group_id"], partial(names.name, "groups"), pl.String()),
        "agent": map_distinct(raw["assignee_id"], partial(names.name, "users"), pl.String()),
        "customer": map_distinct(raw["requester_id"], names.customer, pl.String()),
        "priority": map_distinct(raw["priority"], partial(priority_of, options=options), pl.String(), left),
        "status": map_distinct(
            raw["status"],
            partial(ticket_status, field_name="status", options=options),
            pl.String(),
            left,
        ),
        "subject": raw["subject"],
        "created_at": created_at,
        "updated_at": updated_at,
        "reply_minutes": reply_minutes,
        "resolved_at": resolved_at,
        "reopens": reopens,
        "csat": _csat(raw["rating_score"], external_id, context.ratings, options, left),
        "nps": _survey(columns.custom_fields, options.nps_field, "nps", height, left),
        "ces": _survey(columns.custom_fields, options.ces_field, "ces", height, left),
        "tags": raw["tags"],
        "deleted": map_distinct(raw["status"], is_deleted, pl.Boolean()),
        SOURCE_ROW: raw["_row"],
    }
    if left:
        keep = [True] * height
        for position in left:
            keep[position] = False
        kept = pl.DataFrame([_named(column, name) for name, column in mapped.items()]).filter(pl.Series(keep))
        mapped = dict(zip(kept.columns, kept.get_columns(), strict=True))
    return _interactions(mapped, options.source_name, file_name), sorted(left)


def _interactions(mapped: dict[str, pl.Series], source_name: str, file_name: str) -> pl.DataFrame:
    """The interaction frame (``interaction_frame_schema``) of the mapped columns. Only the columns a page
    needs are computed by polars; the others are the mapped ones, or constants."""
    height = mapped["external_id"].len()
    expressions = _computed_columns(
        source_name,
        replied=mapped["reply_minutes"].null_count() < height,
        closed=bool((mapped["status"] == Status.CLOSED.value).any()),
        updated_missing=mapped["updated_at"].null_count() > 0,
        deleted=bool(mapped["deleted"].any()),
    )
    inputs = pl.DataFrame([_named(mapped[name], name) for name in _COMPUTED_FROM])
    computed = inputs.select_seq(expressions)  # expressions too cheap to share among threads
    columns = mapped | dict(zip(computed.columns, computed.get_columns(), strict=True))
    columns[REPLICATION_KEY] = columns["updated_at"]
    constants = {"source": source_name, SOURCE_FILE: file_name}  # others: null when not computed
    return pl.DataFrame(
        [
            _named(columns[name], name)
            if name in columns
            else constant_column(constants.get(name), height, dtype, name)
            for name, dtype in interaction_frame_schema().items()
        ]
    )


def _named(column: pl.Series, name: str) -> pl.Series:
    return column if column.name == name else column.alias(name)


# The mapped columns the computed ones are made of.
_COMPUTED_FROM = (
    "external_id",
    "subject",
    "created_at",
    "updated_at",
    "reply_minutes",
    "status",
    "deleted",
    "tags",
)


@lru_cache(maxsize=64)
def _computed_columns(
    source_name: str, *, replied: bool, closed: bool, updated_missing: bool, deleted: bool
) -> list[pl.Expr]:
    """The interaction columns computed from the mapped ones; those a page does not need are left out
    (null, or the mapped column). Built once per source and need: building expressions costs about as
    much as running them on a page."""
    created, updated = pl.col("created_at"), pl.col("updated_at")
    if updated_missing:
        updated = updated.fill_null(created)
    computed = [
        pl.lit(interaction_id(source_name, "")).add(pl.col("external_id")).alias("interaction_id"),
        stripped_text(pl.col("subject")).alias("subject"),
        updated.alias("updated_at"),
    ]
    if replied:
        computed.append((created + pl.duration(minutes=pl.col("reply_minutes"))).alias("first_response_at"))
    if closed:
        computed.append(pl.when(pl.col("status") == Status.CLOSED.value).then(updated).alias("closed_at"))
    if deleted:
        deleted_tag = pl.lit(["deleted"], dtype=pl.List(pl.String))
        tags = (
            pl.when(pl.col("deleted")).then(pl.col("tags").list.concat(deleted_tag)).otherwise(pl.col("tags"))
        )
        computed.append(tags.alias("tags"))
    return computed


def _location(
    organization_id: pl.Series,
    custom_fields: list[Any] | None,
    options: ZendeskOptions,
    context: ZendeskContext,
    left: set[int],
) -> pl.Series:
    """A custom field's value when ``location_field`` is set, else the organization's name."""
    if not options.location_field:
        return map_distinct(organization_id, partial(context.names.name, "organizations"), pl.String())
    field_id = options.location_field

    def location(fields: Any) -> str | None:
        return text_or_none(custom_field_value(fields, field_id))

    return _per_ticket(location, custom_fields, organization_id.len(), pl.String(), left)


def _survey(
    custom_fields: list[Any] | None, field_id: int | None, score: str, height: int, left: set[int]
) -> pl.Series:
    """NPS or CES answers from a custom field."""
    if field_id is None:
        return constant_column(None, height, pl.Int8())
    return _per_ticket(
        partial(survey_answer, field_id=field_id, score=score), custom_fields, height, pl.Int8(), left
    )


def _per_ticket(
    read: Callable[[Any], Any],
    custom_fields: list[Any] | None,
    height: int,
    dtype: pl.DataType,
    left: set[int],
) -> pl.Series:
    """``read`` of each ticket's custom field list. Lists ``read`` fails on (an answer it refuses, or a
    list that is not one) are left: the per-ticket mapping reports the first failure in file order."""
    values: list[Any] = []
    for position, fields in enumerate(custom_fields or [None] * height):
        try:
            values.append(read(fields))
        except Exception:  # whatever it is, the per-ticket mapping raises it again
            left.add(position)
            values.append(None)
    return pl.Series(values, dtype=dtype)


def _metric_columns(
    external_id: pl.Series,
    created_at: pl.Series,
    metrics: Mapping[str | None, JsonRecord],
    left: set[int],
) -> list[pl.Series]:
    """reply_minutes (calendar minutes to first reply), resolved_at and reopens from ticket metrics."""
    height = external_id.len()
    if not metrics:
        return [
            constant_column(None, height, pl.Int64(), "reply_minutes"),
            constant_column(None, height, created_at.dtype, "resolved_at"),
            constant_column(None, height, pl.Int32(), "reopens"),
        ]
    found = [metrics.get(ticket_id) for ticket_id in external_id.to_list()]
    data = [{} if record is None else (record.data or {}) for record in found]
    replies = [metric.get("reply_time_in_minutes") for metric in data]
    calendar = int_column([r.get("calendar") if isinstance(r, dict) else None for r in replies], left)
    low, high = _SAFE_CREATION
    risky = calendar.is_not_null() & (
        (calendar.abs() > _MAX_REPLY_MINUTES) | (created_at < low) | (created_at >= high)
    )
    left.update(risky.arg_true().to_list())
    resolved = utc_column([metric.get("solved_at") for metric in data], "ticket_metrics.solved_at", left)
    reopens = int_column([metric.get("reopens") for metric in data], left)
    out_of_range = (reopens < _INT32[0]) | (reopens > _INT32[1])
    left.update(out_of_range.fill_null(False).arg_true().to_list())
    return [
        calendar.alias("reply_minutes"),
        resolved.alias("resolved_at"),
        reopens.clip(*_INT32).cast(pl.Int32).alias("reopens"),
    ]


def _csat(
    own_score: pl.Series,
    external_id: pl.Series,
    ratings: Mapping[str | None, JsonRecord],
    options: ZendeskOptions,
    left: set[int],
) -> pl.Series:
    """A rating of the satisfaction_ratings stream wins over the ticket's own ``satisfaction_rating``."""
    score = own_score
    if ratings:
        rated = [ratings.get(ticket_id) for ticket_id in external_id.to_list()]
        if any(record is not None for record in rated):
            stream_score = text_column(
                [None if r is None else (r.data or {}).get("score") for r in rated], left
            )
            has_rating = pl.Series([record is not None for record in rated], dtype=pl.Boolean)
            score = pl.select(
                pl.when(has_rating).then(stream_score).otherwise(own_score).alias("score")
            ).to_series()
    return map_distinct(score, partial(csat_from_score, options=options), pl.Int8())
