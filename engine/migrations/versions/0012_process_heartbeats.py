"""heartbeats of the web, worker and scheduler processes (readiness, metrics)

Revision ID: 0012
Revises: 0013
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('process_heartbeats',
    sa.Column('id', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('host', sa.String(length=120), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('beat_at', sa.DateTime(), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_process_heartbeats_beat_at', 'process_heartbeats', ['beat_at'], unique=False)


def downgrade():
    op.drop_index('ix_process_heartbeats_beat_at', table_name='process_heartbeats')
    op.drop_table('process_heartbeats')
