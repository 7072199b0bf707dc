"""login_throttle.last_failure_at: delays grow from the last failure, not a fixed lock

Revision ID: 9a3c0de1b2f7
Revises: 5e55104a7f01
Create Date: 2026-12-06 04:00:00
"""
from alembic import op
import sqlalchemy as sa
import lms.db


revision = '9a3c0de1b2f7'
down_revision = '5e55104a7f01'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('login_throttle', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_failure_at', lms.db.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('login_throttle', schema=None) as batch_op:
        batch_op.drop_column('last_failure_at')
