"""sla results: one row per interaction x metric x cycle with evaluation time and config fingerprint

Revision ID: 0003_sla
Revises:
Create Date: 2026-11-23 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0003_sla'
down_revision = None
branch_labels = ('sla',)
depends_on = '0001_core'


def upgrade() -> None:
    op.create_table('sla_results',
    sa.Column('interaction_id', sa.String(length=300), nullable=False),
    sa.Column('metric', sa.String(length=30), nullable=False),
    sa.Column('cycle', sa.Integer(), nullable=False),
    sa.Column('policy', sa.String(length=200), nullable=False),
    sa.Column('target_minutes', sa.Float(), nullable=True),
    sa.Column('elapsed_minutes', sa.Float(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('calendar', sa.String(length=100), nullable=False),
    sa.Column('evaluated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('config_fingerprint', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['interaction_id'], ['interactions.interaction_id'], name=op.f('fk_sla_results_interaction_id_interactions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('interaction_id', 'metric', 'cycle', name=op.f('pk_sla_results'))
    )
    op.create_index('ix_sla_results_status', 'sla_results', ['status'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_sla_results_status', table_name='sla_results')
    op.drop_table('sla_results')
