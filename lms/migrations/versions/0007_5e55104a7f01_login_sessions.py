"""server-side login sessions (revocable; remember-me tokens hashed and rotated)

Revision ID: 5e55104a7f01
Revises: b6c1d2e3f4a5
Create Date: 2026-12-06 03:50:00
"""
from alembic import op
import sqlalchemy as sa
import lms.db


revision = '5e55104a7f01'
down_revision = 'b6c1d2e3f4a5'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('login_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('remember_sha256', sa.String(length=64), nullable=True),
    sa.Column('created_at', lms.db.UTCDateTime(), nullable=False),
    sa.Column('expires_at', lms.db.UTCDateTime(), nullable=False),
    sa.Column('remember_expires_at', lms.db.UTCDateTime(), nullable=True),
    sa.Column('revoked_at', lms.db.UTCDateTime(), nullable=True),
    sa.Column('address', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_login_session_user_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_session')),
    sa.UniqueConstraint('remember_sha256', name=op.f('uq_login_session_remember_sha256')),
    sa.UniqueConstraint('token_sha256', name=op.f('uq_login_session_token_sha256'))
    )
    with op.batch_alter_table('login_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_session_revoked_at'), ['revoked_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_login_session_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('login_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_session_user_id'))
        batch_op.drop_index(batch_op.f('ix_login_session_revoked_at'))
    op.drop_table('login_session')
