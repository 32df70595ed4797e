"""ingest speed: drop the interactions indexes no query uses and the unique constraint the key implies

Every read of interactions loads the whole table into polars or looks rows up by ``interaction_id``; no
query filters or sorts on created_at, updated_at or customer, so those indexes only cost time on every
insert. ``interaction_id`` is ``source:external_id`` and a source never contains ``:`` (connector names
are validated, and ``connectors.validate`` quarantines a row whose source does), so the primary key is
unique exactly when (source, external_id) is: the separate unique constraint was a second copy of it.
Upserts now name the primary key as their conflict target.

Revision ID: 0004_ingest_indexes
Revises: 0001_core
Create Date: 2026-11-22 21:40:00.000000
"""

from __future__ import annotations

from alembic import op

revision = '0004_ingest_indexes'
down_revision = '0001_core'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('interactions', schema=None) as batch_op:
        batch_op.drop_index('ix_interactions_created_at')
        batch_op.drop_index('ix_interactions_updated_at')
        batch_op.drop_index('ix_interactions_customer')
        batch_op.drop_constraint('uq_interactions_source_external_id', type_='unique')


def downgrade() -> None:
    with op.batch_alter_table('interactions', schema=None) as batch_op:
        batch_op.create_unique_constraint('uq_interactions_source_external_id', ['source', 'external_id'])
        batch_op.create_index('ix_interactions_customer', ['customer'], unique=False)
        batch_op.create_index('ix_interactions_updated_at', ['updated_at'], unique=False)
        batch_op.create_index('ix_interactions_created_at', ['created_at'], unique=False)
