"""the trace: hash-chained, append-only entries and their head

Revision ID: b7c1d2e3f4a5
Revises: fad67ae1f4a0
Create Date: 2026-11-23 05:00:00.000000

The database itself keeps the trace append-only: triggers refuse UPDATE and DELETE (and, on
PostgreSQL, TRUNCATE) on trace_entries, and let the head move forward by one entry at a
time only. The head row (seq 0, the all-zeros hash) is made here.
"""
import sqlalchemy as sa
from alembic import op

import portal.database

# revision identifiers, used by Alembic.
revision = 'b7c1d2e3f4a5'
down_revision = 'fad67ae1f4a0'
branch_labels = None
depends_on = None

GENESIS_HASH = '0' * 64
APPEND_ONLY = 'the trace is append-only'
FORWARD_ONLY = 'the trace head only moves forward, one entry at a time'

SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER trace_entries_no_update BEFORE UPDATE ON trace_entries
BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}: UPDATE on trace_entries refused'); END""",
    f"""CREATE TRIGGER trace_entries_no_delete BEFORE DELETE ON trace_entries
BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}: DELETE on trace_entries refused'); END""",
    f"""CREATE TRIGGER trace_head_forward_only BEFORE UPDATE ON trace_head
WHEN NEW.id <> OLD.id OR NEW.last_seq NOT IN (OLD.last_seq, OLD.last_seq + 1)
BEGIN SELECT RAISE(ABORT, '{FORWARD_ONLY}: UPDATE on trace_head refused'); END""",
]

POSTGRESQL_TRIGGERS = [
    """CREATE FUNCTION trace_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%: % on % refused', TG_ARGV[0], TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END
$$""",
    f"""CREATE TRIGGER trace_entries_append_only BEFORE UPDATE OR DELETE ON trace_entries
FOR EACH ROW EXECUTE FUNCTION trace_refuse('{APPEND_ONLY}')""",
    f"""CREATE TRIGGER trace_entries_no_truncate BEFORE TRUNCATE ON trace_entries
FOR EACH STATEMENT EXECUTE FUNCTION trace_refuse('{APPEND_ONLY}')""",
    f"""CREATE TRIGGER trace_head_forward_only BEFORE UPDATE ON trace_head
FOR EACH ROW WHEN (NEW.id <> OLD.id OR NEW.last_seq NOT IN (OLD.last_seq, OLD.last_seq + 1))
EXECUTE FUNCTION trace_refuse('{FORWARD_ONLY}')""",
]


def upgrade():
    op.create_table('trace_head',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('last_seq', sa.Integer(), nullable=False),
    sa.Column('last_hash', sa.String(length=64), nullable=False),
    sa.CheckConstraint('id = 1', name=op.f('ck_trace_head_single_row')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trace_head'))
    )
    op.create_table('trace_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('event', sa.String(length=40), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=True),
    sa.Column('step', sa.String(length=64), nullable=True),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('on_behalf_of_id', sa.Integer(), nullable=True),
    sa.Column('ip_address', sa.String(length=64), nullable=True),
    sa.Column('at', portal.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.Column('data', sa.JSON(), nullable=True),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(
        ['actor_id'], ['users.id'], name=op.f('fk_trace_entries_actor_id_users')
    ),
    sa.ForeignKeyConstraint(
        ['on_behalf_of_id'], ['users.id'], name=op.f('fk_trace_entries_on_behalf_of_id_users')
    ),
    sa.ForeignKeyConstraint(
        ['request_id'],
        ['change_requests.id'],
        name=op.f('fk_trace_entries_request_id_change_requests'),
    ),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trace_entries')),
    sa.UniqueConstraint('seq', name=op.f('uq_trace_entries_seq'))
    )
    with op.batch_alter_table('trace_entries', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_trace_entries_request_id'), ['request_id'], unique=False
        )

    op.execute(
        sa.text("INSERT INTO trace_head (id, last_seq, last_hash) VALUES (1, 0, :genesis)")
        .bindparams(genesis=GENESIS_HASH)
    )

    dialect = op.get_bind().dialect.name
    if dialect == 'sqlite':
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)
    elif dialect == 'postgresql':
        for statement in POSTGRESQL_TRIGGERS:
            op.execute(statement)


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == 'sqlite':
        for name in ('trace_head_forward_only', 'trace_entries_no_delete',
                     'trace_entries_no_update'):
            op.execute(f'DROP TRIGGER IF EXISTS {name}')
    elif dialect == 'postgresql':
        op.execute('DROP TRIGGER IF EXISTS trace_head_forward_only ON trace_head')
        op.execute('DROP TRIGGER IF EXISTS trace_entries_no_truncate ON trace_entries')
        op.execute('DROP TRIGGER IF EXISTS trace_entries_append_only ON trace_entries')
        op.execute('DROP FUNCTION IF EXISTS trace_refuse()')

    with op.batch_alter_table('trace_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_trace_entries_request_id'))

    op.drop_table('trace_entries')
    op.drop_table('trace_head')
