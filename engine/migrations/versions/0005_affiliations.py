"""people's organization affiliations as dated records, replacing the account's one organization

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('affiliations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('title', sa.String(length=100), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('affiliations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_affiliations_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_affiliations_user_id'), ['user_id'], unique=False)
    # Each account's organization becomes an employment from the day the account was made.
    users = sa.table('users', sa.column('id', sa.Integer()), sa.column('organization_id', sa.Integer()),
                     sa.column('created_at', sa.DateTime()))
    bind = op.get_bind()
    rows = bind.execute(sa.select(users.c.id, users.c.organization_id, users.c.created_at)
                        .where(users.c.organization_id.is_not(None))).all()
    if rows:
        affiliations = sa.table('affiliations', sa.column('user_id', sa.Integer()),
                                sa.column('organization_id', sa.Integer()), sa.column('kind', sa.String()),
                                sa.column('title', sa.String()), sa.column('starts_on', sa.Date()))
        bind.execute(affiliations.insert(), [
            {"user_id": user_id, "organization_id": org_id, "kind": "employment", "title": "",
             "starts_on": created_at.date()} for user_id, org_id, created_at in rows])
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('organization_id')


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('organization_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_users_organization_id', 'organizations', ['organization_id'], ['id'])
    with op.batch_alter_table('affiliations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_affiliations_user_id'))
        batch_op.drop_index(batch_op.f('ix_affiliations_organization_id'))
    op.drop_table('affiliations')
