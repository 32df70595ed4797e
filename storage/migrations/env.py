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
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # A batch migration rebuilds a table (copy, drop, rename). With foreign keys on, dropping the
            # old table would delete every row that refers to it through ON DELETE CASCADE (events, reviews,
            # SLA results). SQLite ignores this pragma inside a transaction, hence before it starts.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            with connection.begin():
                context.configure(connection=connection, target_metadata=metadata, render_as_batch=sqlite)
                context.run_migrations()
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if broken:
                        raise RuntimeError(f"migration left rows with dangling foreign keys: {broken[:5]}")
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()


run_migrations()
