"""inbound webhook receipts

Revision ID: e4c0nnect001
Revises: e4a0outbox01
Create Date: 2026-12-02 16:20:00

"""
from alembic import op
import sqlalchemy as sa

import portal.database


# revision identifiers, used by Alembic.
revision = 'e4c0nnect001'
down_revision = 'e4a0outbox01'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('inbound_receipts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('connector', sa.String(length=64), nullable=False),
    sa.Column('setting_id', sa.Integer(), nullable=True),
    sa.Column('delivery_id', sa.String(length=255), nullable=True),
    sa.Column('body_hash', sa.String(length=64), nullable=False),
    sa.Column('dedup_key', sa.String(length=400), nullable=True),
    sa.Column('verified', sa.Boolean(), nullable=False),
    sa.Column('outcome', sa.String(length=32), nullable=False),
    sa.Column('detail', sa.String(length=1000), nullable=True),
    sa.Column('received_at', portal.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['setting_id'], ['connector_settings.id'], name=op.f('fk_inbound_receipts_setting_id_connector_settings'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbound_receipts')),
    sa.UniqueConstraint('connector', 'dedup_key', name='uq_inbound_receipts_connector_dedup')
    )
    with op.batch_alter_table('inbound_receipts', schema=None) as batch_op:
        batch_op.create_index('ix_inbound_receipts_received_at', ['received_at'], unique=False)


def downgrade():
    with op.batch_alter_table('inbound_receipts', schema=None) as batch_op:
        batch_op.drop_index('ix_inbound_receipts_received_at')

    op.drop_table('inbound_receipts')
