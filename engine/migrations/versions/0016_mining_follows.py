"""mining: each completion keeps the one before it; indexes of each activity's durations; the activities

Revision ID: 0016_mining_follows
Revises: 0015_migration_failures
"""
from alembic import op
import sqlalchemy as sa


revision = '0016_mining_follows'
down_revision = '0015_migration_failures'
branch_labels = None
depends_on = None

WAITING = "t_pickup - t_sched"
WORKING = "t_done - COALESCE(t_start, t_pickup, t_sched)"
TOTAL = "t_done - COALESCE(t_sched, t_start, t_pickup)"


def upgrade():
    op.create_table('mining_activities',
                    sa.Column('activity_id', sa.String(length=100), nullable=False),
                    sa.Column('activity_name', sa.String(length=300), nullable=True),
                    sa.Column('activity_type', sa.String(length=20), nullable=True),
                    sa.Column('step', sa.Integer(), nullable=True),
                    sa.Column('role', sa.String(length=40), nullable=True),
                    sa.PrimaryKeyConstraint('activity_id'))
    op.execute("""
        INSERT INTO mining_activities (activity_id, activity_name, activity_type, step, role)
        SELECT activity_id, MAX(activity_name), MAX(activity_type), MAX(step), MAX(role)
        FROM mining_acts WHERE activity_id IS NOT NULL GROUP BY activity_id""")
    op.add_column('mining_acts', sa.Column('prev_activity', sa.String(length=100), nullable=True))
    op.add_column('mining_acts', sa.Column('t_prev', sa.Double(), nullable=True))
    # Completions already folded: each one's predecessor in its case, in completion order.
    op.execute("""
        UPDATE mining_acts SET prev_activity = p.prev_activity, t_prev = p.t_prev FROM (
            SELECT task_id, LAG(activity_id) OVER w AS prev_activity, LAG(t_done) OVER w AS t_prev
            FROM mining_acts WHERE t_done IS NOT NULL
            WINDOW w AS (PARTITION BY instance_id ORDER BY t_done, seq_done, activity_id)) p
        WHERE p.task_id = mining_acts.task_id AND p.prev_activity IS NOT NULL""")
    op.create_index('ix_mining_acts_waiting', 'mining_acts', ['activity_id', sa.text(f'({WAITING})')], unique=False)
    op.create_index('ix_mining_acts_working', 'mining_acts', ['activity_id', sa.text(f'({WORKING})')], unique=False)
    op.create_index('ix_mining_acts_total', 'mining_acts',
                    ['activity_id', sa.text(f'({TOTAL})'), sa.text(f'({WAITING})'), sa.text(f'({WORKING})'), 't_done',
                     't_cancel'], unique=False)
    op.create_index('ix_mining_acts_follows', 'mining_acts',
                    ['prev_activity', 'activity_id', 'instance_id', sa.text('(t_done - t_prev)')], unique=False)


def downgrade():
    for name in ('ix_mining_acts_follows', 'ix_mining_acts_total', 'ix_mining_acts_working', 'ix_mining_acts_waiting'):
        op.drop_index(name, table_name='mining_acts')
    op.drop_column('mining_acts', 't_prev')
    op.drop_column('mining_acts', 'prev_activity')
    op.drop_table('mining_activities')
