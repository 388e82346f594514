"""events numbered within their case; mining activity instances keep those numbers

Revision ID: 0011
Revises: 0012
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('events', sa.Column('seq', sa.Integer(), nullable=True))
    op.create_index('ix_events_instance_seq', 'events', ['instance_id', 'seq'], unique=False)
    op.add_column('mining_acts', sa.Column('seq_first', sa.Integer(), nullable=True))
    op.add_column('mining_acts', sa.Column('seq_done', sa.Integer(), nullable=True))
    op.drop_index('ix_mining_acts_instance', table_name='mining_acts')
    op.create_index('ix_mining_acts_instance', 'mining_acts', ['instance_id', 't_done', 'seq_done', 'activity_id'],
                    unique=False)
    # Events already written: numbered in the order of time, then of writing.
    op.execute("""
        UPDATE events SET seq = n.n FROM (
            SELECT id, ROW_NUMBER() OVER (PARTITION BY instance_id ORDER BY ts, id) AS n FROM events) n
        WHERE n.id = events.id""")
    op.execute("""
        UPDATE mining_acts SET seq_first = s.seq_first, seq_done = s.seq_done FROM (
            SELECT COALESCE(task_id, 'event-' || CAST(id AS VARCHAR(20))) AS task_id, MIN(seq) AS seq_first,
                   MAX(CASE WHEN transition = 'complete' THEN seq END) AS seq_done
            FROM events WHERE activity_type <> 'instance'
            GROUP BY COALESCE(task_id, 'event-' || CAST(id AS VARCHAR(20)))) s
        WHERE s.task_id = mining_acts.task_id""")


def downgrade():
    op.drop_index('ix_mining_acts_instance', table_name='mining_acts')
    op.create_index('ix_mining_acts_instance', 'mining_acts', ['instance_id', 't_done', 'activity_id'], unique=False)
    op.drop_column('mining_acts', 'seq_done')
    op.drop_column('mining_acts', 'seq_first')
    op.drop_index('ix_events_instance_seq', table_name='events')
    op.drop_column('events', 'seq')
