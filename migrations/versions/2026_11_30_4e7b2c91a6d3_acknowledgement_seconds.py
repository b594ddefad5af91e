"""acknowledgement seconds: time from alert to acknowledgement, written with it

/metrics buckets these in one aggregate instead of reading every
acknowledged activation. Existing acknowledgements are filled in from their
two times.

Revision ID: 4e7b2c91a6d3
Revises: 9b68e7a99e03
Create Date: 2026-11-30 10:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '4e7b2c91a6d3'
down_revision = '9b68e7a99e03'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('activations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('acknowledged_after_seconds', sa.Float(), nullable=True))
    if op.get_bind().dialect.name == 'postgresql':
        took = 'GREATEST(0.0, EXTRACT(EPOCH FROM acknowledged_at - activated_at))'
    else:
        took = 'MAX(0.0, (julianday(acknowledged_at) - julianday(activated_at)) * 86400.0)'
    op.execute(
        f'UPDATE activations SET acknowledged_after_seconds = {took} WHERE acknowledged_at IS NOT NULL'
    )


def downgrade():
    with op.batch_alter_table('activations', schema=None) as batch_op:
        batch_op.drop_column('acknowledged_after_seconds')
