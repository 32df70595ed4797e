"""Storage edge: SQLAlchemy engine, tables, Alembic migrations, batched upserts, reads into polars."""
