"""Initial passwords handed out once: user.initial_password dropped, credential_sheet added

The clear text of initial passwords that were never changed is discarded (issue 18, item 7):
those accounts keep working with the password already handed out (its hash is kept); a person
who lost it gets a new one from the unit officer (reset, shown once) or an administrator.

Revision ID: c4e1f0a2b3d5
Revises: 9a3c0de1b2f7
Create Date: 2026-12-06 09:20:00
"""
from alembic import op
import sqlalchemy as sa
import lms.db


revision = 'c4e1f0a2b3d5'
down_revision = '9a3c0de1b2f7'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'credential_sheet',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('batch', sa.String(length=32), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=False),
        sa.Column('unit_id', sa.Integer(), nullable=False),
        sa.Column('course_id', sa.Integer(), nullable=True),
        sa.Column('sealed', sa.Text(), nullable=False),
        sa.Column('created_at', lms.db.UTCDateTime(), nullable=False),
        sa.Column('expires_at', lms.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['course_id'], ['course.id'], name=op.f('fk_credential_sheet_course_id_course'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_credential_sheet_created_by_id_user'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_credential_sheet_unit_id_unit'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_credential_sheet')),
    )
    with op.batch_alter_table('credential_sheet', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_credential_sheet_batch'), ['batch'], unique=False)
        batch_op.create_index(batch_op.f('ix_credential_sheet_created_by_id'), ['created_by_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_credential_sheet_expires_at'), ['expires_at'], unique=False)
    # In place (SQLite >= 3.35 has DROP COLUMN), not in batch mode: batch mode recreates the table,
    # and SQLite refuses DROP TABLE "user" while foreign keys are on and any row refers to a user.
    op.drop_column('user', 'initial_password')


def downgrade() -> None:
    # The clear text discarded by upgrade() cannot come back: the column returns empty.
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('initial_password', sa.String(length=64), nullable=True))
    with op.batch_alter_table('credential_sheet', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_credential_sheet_expires_at'))
        batch_op.drop_index(batch_op.f('ix_credential_sheet_created_by_id'))
        batch_op.drop_index(batch_op.f('ix_credential_sheet_batch'))
    op.drop_table('credential_sheet')
