"""ingest speed: content hashes computed column-wise (SHA-256 of polars-hash's row encoding, version 1)

``interactions.row_hash`` (the tie-break between two versions with the same ``updated_at``) and
``interaction_events.event_key`` (one row per distinct event) were blake2b digests of a text form of each row,
computed one row at a time in Python: about a third of the time of a large load. They are now SHA-256 of
polars-hash's frozen row encoding, computed in Rust for a whole batch. Stored rows get their new hashes here,
so that an event loaded again still matches its stored key and equal versions still compare as equal.
Both directions are computed from the stored values; each form is written out in this file so that it never
changes with the application code.

Revision ID: 0005_row_hash_v2
Revises: 0004_ingest_indexes
Create Date: 2026-11-22 22:40:00.000000
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

import polars as pl
import polars_hash
from alembic import op

from servicelens.model import EVENT_SCHEMA, INTERACTION_SCHEMA
from storage.sqlio import execute_many, placeholder, read_frame

revision = "0005_row_hash_v2"
down_revision = "0004_ingest_indexes"
branch_labels = None
depends_on = None

Hasher = Callable[[pl.DataFrame, Sequence[str], int], pl.Series]


def _sha256_of_row_encoding(frame: pl.DataFrame, columns: Sequence[str], digest_size: int) -> pl.Series:
    encoded = polars_hash.hash_rows([pl.col(c) for c in columns], version=1)
    return frame.select(encoded.chash.sha2_256().str.slice(0, 2 * digest_size)).to_series()


def _blake2b_of_text(frame: pl.DataFrame, columns: Sequence[str], digest_size: int) -> pl.Series:
    """The form used before this revision: fields as text joined by \\x1f, null as \\x00, lists by \\x1e."""
    parts = [
        (
            pl.col(c).list.join("\x1e") if isinstance(frame.schema[c], pl.List) else pl.col(c).cast(pl.String)
        ).fill_null("\x00")
        for c in columns
    ]
    text = frame.select(pl.concat_str(parts, separator="\x1f")).to_series().cast(pl.Binary).to_list()
    return pl.Series([hashlib.blake2b(v, digest_size=digest_size).hexdigest() for v in text], dtype=pl.String)


def _rehash(hasher: Hasher) -> None:
    conn = op.get_bind()
    ph = placeholder(conn)
    interaction_columns = list(INTERACTION_SCHEMA)
    interactions = read_frame(
        conn, f"SELECT {', '.join(interaction_columns)} FROM interactions", (), INTERACTION_SCHEMA
    )
    if interactions.height:
        hashes = hasher(interactions, interaction_columns, 16)
        rows = zip(hashes.to_list(), interactions["interaction_id"].to_list(), strict=True)
        execute_many(conn, f"UPDATE interactions SET row_hash = {ph} WHERE interaction_id = {ph}", rows)
    event_columns = list(EVENT_SCHEMA)
    events = read_frame(
        conn,
        f"SELECT event_key, {', '.join(event_columns)} FROM interaction_events",
        (),
        {"event_key": pl.String(), **EVENT_SCHEMA},
    )
    if events.height:
        keys = hasher(events, event_columns, 20)
        rows = zip(keys.to_list(), events["event_key"].to_list(), strict=True)
        execute_many(conn, f"UPDATE interaction_events SET event_key = {ph} WHERE event_key = {ph}", rows)


def upgrade() -> None:
    _rehash(_sha256_of_row_encoding)


def downgrade() -> None:
    _rehash(_blake2b_of_text)
