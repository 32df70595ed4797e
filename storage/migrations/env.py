"""Alembic environment: runs against the engine handed over by storage.db.upgrade."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

import storage.sla_tables  # noqa: F401
from storage import audit_tables  # noqa: F401  (registers the audit tables on the metadata)
from storage.tables import metadata

config = context.config


def run_migrations() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        url = config.get_main_option("sqlalchemy.url")
        if not url:
            raise RuntimeError("no database: pass an engine through storage.db.upgrade")
        engine = sa.create_engine(url)
    with engine.begin() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        context.run_migrations()


run_migrations()
