"""SQL tables of the core model. Other areas define their tables on the same ``metadata``.

Timestamps are ``DateTime(timezone=True)``: timestamptz in PostgreSQL; in SQLite a fixed-width UTC text
(``YYYY-MM-DD HH:MM:SS.ffffff``) that sorts and compares correctly.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

TS = sa.DateTime(timezone=True)
# Interaction ids compare byte by byte on PostgreSQL (migration 0007_interaction_ids_bytewise); SQLite's
# default BINARY collation already does.
INTERACTION_ID = sa.String(300).with_variant(sa.String(300, collation="C"), "postgresql")

interactions = sa.Table(
    "interactions",
    metadata,
    sa.Column("interaction_id", INTERACTION_ID, primary_key=True),
    sa.Column("source", sa.String(100), nullable=False),
    sa.Column("external_id", sa.String(200), nullable=False),
    sa.Column("channel", sa.String(20), nullable=False),
    sa.Column("location", sa.String(200)),
    sa.Column("team", sa.String(200)),
    sa.Column("agent", sa.String(200)),
    sa.Column("customer", sa.String(300)),
    sa.Column("priority", sa.String(20), nullable=False),
    sa.Column("status", sa.String(40)),
    sa.Column("subject", sa.Text),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("first_response_at", TS),
    sa.Column("resolved_at", TS),
    sa.Column("closed_at", TS),
    sa.Column("updated_at", TS, nullable=False),
    sa.Column("reopens", sa.Integer, nullable=False, server_default="0"),
    sa.Column("csat", sa.SmallInteger),
    sa.Column("nps", sa.SmallInteger),
    sa.Column("ces", sa.SmallInteger),
    sa.Column("tags", sa.Text, nullable=False, server_default="[]"),  # JSON array of strings
    # Fingerprint of the content: equal updated_at but different content is resolved deterministically.
    sa.Column("row_hash", sa.String(32), nullable=False),
    sa.Column("ingested_at", TS, nullable=False),
    # No secondary indexes: every read loads the whole table or looks rows up by interaction_id, and each
    # index would slow every insert. interaction_id is source:external_id with a colon-free source, so the
    # primary key also keeps (source, external_id) unique (migration 0004_ingest_indexes).
    # SQLite: the rows live in the primary key's b-tree (WITHOUT ROWID), one b-tree to write per insert
    # instead of a table and its key index (migration 0006_interactions_without_rowid).
    sqlite_with_rowid=False,
)

interaction_events = sa.Table(
    "interaction_events",
    metadata,
    # Hash of all event fields: the same event loaded twice is stored once.
    sa.Column("event_key", sa.String(40), primary_key=True),
    sa.Column(
        "interaction_id",
        INTERACTION_ID,
        sa.ForeignKey("interactions.interaction_id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("at", TS, nullable=False),
    sa.Column("type", sa.String(30), nullable=False),
    sa.Column("status", sa.String(40)),
    sa.Column("author", sa.String(300)),
    sa.Column("body", sa.Text),
    sa.Index("ix_interaction_events_interaction_id_at", "interaction_id", "at"),
)

quarantine = sa.Table(
    "quarantine",
    metadata,
    # Hash of (source, file, row, field, reason, raw): re-reading a bad file does not pile up copies.
    sa.Column("quarantine_key", sa.String(40), primary_key=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("ingest_runs.run_id", ondelete="SET NULL")),
    sa.Column("source", sa.String(100), nullable=False),
    sa.Column("record_kind", sa.String(20), nullable=False),  # interaction | event | record
    sa.Column("file", sa.Text, nullable=False),
    sa.Column("row", sa.Integer),
    sa.Column("field", sa.String(100)),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("raw", sa.Text, nullable=False),  # the original row as JSON, for download and repair
    sa.Column("quarantined_at", TS, nullable=False),
    sa.Index("ix_quarantine_source", "source"),
)

ingest_runs = sa.Table(
    "ingest_runs",
    metadata,
    sa.Column("run_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("connector", sa.String(100), nullable=False),
    sa.Column("started_at", TS, nullable=False),
    sa.Column("finished_at", TS),
    sa.Column("status", sa.String(20), nullable=False),  # running | succeeded | failed
    sa.Column("read", sa.Integer, nullable=False, server_default="0"),
    sa.Column("inserted", sa.Integer, nullable=False, server_default="0"),
    sa.Column("updated", sa.Integer, nullable=False, server_default="0"),
    sa.Column("unchanged", sa.Integer, nullable=False, server_default="0"),
    sa.Column("quarantined", sa.Integer, nullable=False, server_default="0"),
    sa.Column("events_inserted", sa.Integer, nullable=False, server_default="0"),
    sa.Column("message", sa.Text),
    sa.Index("ix_ingest_runs_connector_started_at", "connector", "started_at"),
)

bookmarks = sa.Table(
    "bookmarks",
    metadata,
    sa.Column("connector", sa.String(100), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),  # replication key value (ISO timestamp, cursor, file list)
    sa.Column("updated_at", TS, nullable=False),
)

ingested_files = sa.Table(
    "ingested_files",
    metadata,
    # File-drop connectors remember each file's content hash so an unchanged file is not re-read.
    sa.Column("connector", sa.String(100), primary_key=True),
    sa.Column("path", sa.Text, primary_key=True),
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("ingest_runs.run_id", ondelete="SET NULL")),
    sa.Column("ingested_at", TS, nullable=False),
)
