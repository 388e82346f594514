"""yearly catalogs approved by the town; the register of social organizations

Revision ID: 0003
Revises: 0002

Columns are only added or dropped (no table is rebuilt), so SQLite upgrades a database
whose rows other tables refer to. Catalog items already in the database join the catalog
of the year of the upgrade, not yet approved; organizations keep their standing as a
registration status.
"""
from datetime import datetime, timedelta, timezone

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    year = (datetime.now(timezone.utc) + timedelta(hours=8)).year  # the year in China
    op.add_column('catalog_items', sa.Column('year', sa.Integer(), nullable=False, server_default=str(year)))
    op.add_column('catalog_items', sa.Column('revision', sa.Integer(), nullable=False, server_default='1'))
    op.add_column('catalog_items', sa.Column('approved_revision', sa.Integer(), nullable=True))
    op.add_column('catalog_items', sa.Column('updated_by', sa.String(length=80), nullable=False, server_default=''))
    op.add_column('catalog_items', sa.Column('updated_at', sa.DateTime(), nullable=True))
    op.add_column('catalog_items', sa.Column('retired_at', sa.DateTime(), nullable=True))
    op.add_column('catalog_items', sa.Column('retired_by', sa.String(length=80), nullable=True))
    if op.get_bind().dialect.name == 'postgresql':
        # The defaults only filled the existing rows; the application always sets these.
        # (SQLite cannot drop a column default without rebuilding the table.)
        for column in ('year', 'revision', 'updated_by'):
            op.alter_column('catalog_items', column, server_default=None)

    op.add_column('organizations', sa.Column('credit_code', sa.String(length=18), nullable=True))
    op.add_column('organizations', sa.Column('status', sa.String(length=20), nullable=False, server_default='active'))
    op.execute("UPDATE organizations SET status = CASE WHEN NOT registered THEN 'unregistered' "
               "WHEN NOT active THEN 'deregistered' ELSE 'active' END")
    op.drop_column('organizations', 'registered')
    op.drop_column('organizations', 'active')
    if op.get_bind().dialect.name == 'postgresql':
        op.alter_column('organizations', 'status', server_default=None)
    op.create_index('uq_organizations_credit_code', 'organizations', ['credit_code'], unique=True)

    op.create_table('catalog_approvals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('approved_by', sa.String(length=80), nullable=False),
    sa.Column('approved_at', sa.DateTime(), nullable=False),
    sa.Column('items', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_catalog_approvals_community_year', 'catalog_approvals', ['community_id', 'year'])
    op.create_table('organization_branches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('address', sa.String(length=300), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('organization_id', 'name')
    )
    op.create_index('ix_organization_branches_organization_id', 'organization_branches', ['organization_id'])


def downgrade():
    op.drop_index('ix_organization_branches_organization_id', table_name='organization_branches')
    op.drop_table('organization_branches')
    op.drop_index('ix_catalog_approvals_community_year', table_name='catalog_approvals')
    op.drop_table('catalog_approvals')
    op.drop_index('uq_organizations_credit_code', table_name='organizations')
    op.add_column('organizations', sa.Column('registered', sa.Boolean(), nullable=False, server_default=sa.true()))
    op.add_column('organizations', sa.Column('active', sa.Boolean(), nullable=False, server_default=sa.true()))
    op.execute("UPDATE organizations SET registered = (status <> 'unregistered'), active = (status = 'active')")
    op.drop_column('organizations', 'status')
    op.drop_column('organizations', 'credit_code')
    for column in ('retired_by', 'retired_at', 'updated_at', 'updated_by', 'approved_revision', 'revision', 'year'):
        op.drop_column('catalog_items', column)
