"""LTI scores outbox: the score decided per (grade column, person), its AGS timestamp and retries

Revision ID: b6c1d2e3f4a5
Revises: 7319478e600c
Create Date: 2026-12-06 04:00:00
"""
from alembic import op
import sqlalchemy as sa
import lms.db


revision = 'b6c1d2e3f4a5'
down_revision = '7319478e600c'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('lti_score',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('resource_link_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('score_given', sa.Float(), nullable=True),
    sa.Column('activity_progress', sa.String(length=20), nullable=False),
    sa.Column('grading_progress', sa.String(length=20), nullable=False),
    sa.Column('changed_at', lms.db.UTCDateTime(), nullable=False),
    sa.Column('sent_changed_at', lms.db.UTCDateTime(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', lms.db.UTCDateTime(), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['resource_link_id'], ['lti_resource_link.id'],
                            name=op.f('fk_lti_score_resource_link_id_lti_resource_link'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_lti_score_user_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lti_score')),
    sa.UniqueConstraint('resource_link_id', 'user_id', name=op.f('uq_lti_score_resource_link_id_user_id'))
    )
    with op.batch_alter_table('lti_score', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lti_score_user_id'), ['user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_lti_score_next_attempt_at'), ['next_attempt_at'], unique=False)


def downgrade() -> None:
    op.drop_table('lti_score')
