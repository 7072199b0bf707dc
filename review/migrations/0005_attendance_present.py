"""covering index for the attendance counts of completeness

Revision ID: review_attendance_present
Revises: review_attendance
Create Date: 2026-11-25
"""
from alembic import op

revision = "review_attendance_present"
down_revision = "review_attendance"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Completeness counts present trainees per day for every unit: with is_present and day in the
    # index it never reads the attendance rows (measured ≈ 1/3 of that query at country size).
    op.create_index("ix_attendance_present", "attendance", ["enrollment_id", "is_present", "day"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_attendance_present", table_name="attendance")
