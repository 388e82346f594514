"""finished tasks stored once, beside the instance's open state

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('instance_state_parts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('instance_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['instance_id'], ['instances.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('instance_state_parts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_instance_state_parts_instance_id'), ['instance_id'], unique=False)


def downgrade():
    with op.batch_alter_table('instance_state_parts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_instance_state_parts_instance_id'))
    op.drop_table('instance_state_parts')
