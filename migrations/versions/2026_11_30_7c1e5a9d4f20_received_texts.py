"""received texts: the provider's id of each text a lead sent in

A GOV.UK Notify received-text callback may arrive more than once (Notify
retries when an answer is slow); the id of each one acted on is kept, never
the number or the words, so a repeat is acted on once.

Revision ID: 7c1e5a9d4f20
Revises: 623f8b443b6e
Create Date: 2026-11-30 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7c1e5a9d4f20'
down_revision = '623f8b443b6e'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('received_texts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider', sa.String(length=16), nullable=False),
    sa.Column('provider_id', sa.String(length=64), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_received_texts')),
    sa.UniqueConstraint('provider', 'provider_id', name=op.f('uq_received_texts_provider'))
    )


def downgrade():
    op.drop_table('received_texts')
