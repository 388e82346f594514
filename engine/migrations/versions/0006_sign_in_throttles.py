"""sign-in throttled per account name and per address instead of locking accounts;
session version per user

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('sign_in_throttles',
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_failure_at', sa.DateTime(), nullable=False),
    sa.Column('blocked_until', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('key')
    )
    op.add_column('users', sa.Column('session_version', sa.Integer(), server_default='0', nullable=False))
    # Plain ALTER TABLE (SQLite 3.35+ and PostgreSQL): a batch copy of `users` would have to
    # drop a table other tables' foreign keys point at.
    op.execute('ALTER TABLE users DROP COLUMN locked_until')
    op.execute('ALTER TABLE users DROP COLUMN failed_logins')


def downgrade():
    op.add_column('users', sa.Column('failed_logins', sa.Integer(), server_default='0', nullable=False))
    op.add_column('users', sa.Column('locked_until', sa.DateTime(), nullable=True))
    op.execute('ALTER TABLE users DROP COLUMN session_version')
    op.drop_table('sign_in_throttles')
