"""calendar closed days: the extra days a working calendar is closed (admin pages)

Revision ID: e6adm1n00001
Revises: e4c0nnect001
Create Date: 2026-12-02 16:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e6adm1n00001'
down_revision = 'e4c0nnect001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('calendars', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('closed_days', sa.Text(), nullable=False, server_default='')
        )


def downgrade():
    with op.batch_alter_table('calendars', schema=None) as batch_op:
        batch_op.drop_column('closed_days')
