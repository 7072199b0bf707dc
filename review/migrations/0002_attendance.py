"""attendance, exemptions, notices

Revision ID: review_attendance
Revises: review_base
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa

import lms.db

revision = "review_attendance"
down_revision = "review_base"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attendance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enrollment_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("is_present", sa.Boolean(), nullable=False),
        sa.Column("marked_by_id", sa.Integer(), nullable=True),
        sa.Column("marked_at", lms.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["enrollment_id"], ["enrollment.id"], ondelete="CASCADE",
                                name=op.f("fk_attendance_enrollment_id_enrollment")),
        sa.ForeignKeyConstraint(["marked_by_id"], ["user.id"], name=op.f("fk_attendance_marked_by_id_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attendance")),
        sa.UniqueConstraint("enrollment_id", "day", name=op.f("uq_attendance_enrollment_id_day")),
    )
    op.create_table(
        "exemption",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enrollment_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("granted_by_id", sa.Integer(), nullable=True),
        sa.Column("granted_at", lms.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["enrollment_id"], ["enrollment.id"], ondelete="CASCADE",
                                name=op.f("fk_exemption_enrollment_id_enrollment")),
        sa.ForeignKeyConstraint(["granted_by_id"], ["user.id"], name=op.f("fk_exemption_granted_by_id_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exemption")),
        sa.UniqueConstraint("enrollment_id", name=op.f("uq_exemption_enrollment_id")),
    )
    op.create_table(
        "notice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", lms.db.UTCDateTime(), nullable=False),
        sa.Column("read_at", lms.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], ondelete="CASCADE", name=op.f("fk_notice_user_id_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice")),
    )
    with op.batch_alter_table("notice", schema=None) as batch_op:
        batch_op.create_index("ix_notice_user_read", ["user_id", "read_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("notice", schema=None) as batch_op:
        batch_op.drop_index("ix_notice_user_read")
    op.drop_table("notice")
    op.drop_table("exemption")
    op.drop_table("attendance")
