"""migration runs: failed passes in a row and why the last batch failed

Revision ID: 0015_migration_failures
Revises: 0014_migration_runs
"""
from alembic import op
import sqlalchemy as sa


revision = '0015_migration_failures'
down_revision = '0014_migration_runs'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('migration_runs') as batch:
        batch.add_column(sa.Column('failures', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('error', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('migration_runs') as batch:
        batch.drop_column('error')
        batch.drop_column('failures')
