"""migration runs: running instances moved onto a newer version in committed batches

Revision ID: 0014_migration_runs
Revises: 0008
"""
from alembic import op
import sqlalchemy as sa


revision = '0014_migration_runs'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('migration_runs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('target_id', sa.Integer(), nullable=False),
    sa.Column('actor', sa.String(length=80), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('instance_ids', sa.JSON(), nullable=False),
    sa.Column('batch_size', sa.Integer(), nullable=False),
    sa.Column('handled', sa.Integer(), nullable=False),
    sa.Column('moved', sa.Integer(), nullable=False),
    sa.Column('batches', sa.Integer(), nullable=False),
    sa.Column('refused', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['target_id'], ['definitions.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_migration_runs_state', 'migration_runs', ['state'], unique=False)


def downgrade():
    op.drop_index('ix_migration_runs_state', table_name='migration_runs')
    op.drop_table('migration_runs')
