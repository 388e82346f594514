"""notification kinds and parameters, followed projects, e-mail and webhook deliveries,
the administrator's corrections of the working-day calendar

Revision ID: 0009
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('instance_id', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('kind', sa.String(length=40), server_default='message', nullable=False))
        batch_op.add_column(sa.Column('params', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('key', sa.String(length=200), nullable=True))
        batch_op.create_unique_constraint('uq_notifications_key', ['key'])
        batch_op.create_index('ix_notifications_unread', ['username', 'read_at', 'id'], unique=False)
        batch_op.create_index('ix_notifications_task_kind', ['task_id', 'kind'], unique=False)
        batch_op.add_column(sa.Column('routed_at', sa.DateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_notifications_routed_at'), ['routed_at'], unique=False)
    # Notifications from before are not sent by e-mail or webhook now.
    op.execute("UPDATE notifications SET routed_at = created_at")
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email', sa.String(length=254), nullable=True))
    op.create_table('notification_preferences',
    sa.Column('username', sa.String(length=80), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.PrimaryKeyConstraint('username', 'kind')
    )
    op.create_table('deliveries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('notification_id', sa.BigInteger(), nullable=False),
    sa.Column('username', sa.String(length=80), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_at', sa.DateTime(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['notification_id'], ['notifications.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_deliveries_due', ['state', 'next_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_deliveries_notification_id'), ['notification_id'], unique=False)
    op.create_table('project_follows',
    sa.Column('username', sa.String(length=80), nullable=False),
    sa.Column('instance_id', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['instance_id'], ['instances.id'], ),
    sa.PrimaryKeyConstraint('username', 'instance_id')
    )
    with op.batch_alter_table('project_follows', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_project_follows_instance_id'), ['instance_id'], unique=False)


    op.create_table('calendar_days',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('working', sa.Boolean(), nullable=False),
    sa.Column('note', sa.String(length=100), nullable=False),
    sa.Column('changed_by', sa.String(length=80), nullable=False),
    sa.Column('changed_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('day')
    )


def downgrade():
    op.drop_table('calendar_days')
    op.drop_table('deliveries')
    op.drop_table('notification_preferences')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('email')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notifications_routed_at'))
        batch_op.drop_column('routed_at')
    with op.batch_alter_table('project_follows', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_project_follows_instance_id'))
    op.drop_table('project_follows')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_task_kind')
        batch_op.drop_index('ix_notifications_unread')
        batch_op.drop_constraint('uq_notifications_key', type_='unique')
        batch_op.drop_column('key')
        batch_op.drop_column('params')
        batch_op.drop_column('kind')
        batch_op.drop_column('instance_id')
