"""report settings: header, number, signatory and recipients per course (and unit)

Revision ID: review_report
Revises: review_base
Create Date: 2026-11-26
"""
from alembic import op
import sqlalchemy as sa

import lms.db

revision = "review_report"
down_revision = "review_base"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("parent_org", sa.String(length=200), nullable=False),
        sa.Column("org_name", sa.String(length=200), nullable=False),
        sa.Column("number", sa.String(length=60), nullable=False),
        sa.Column("place", sa.String(length=100), nullable=False),
        sa.Column("signer_for", sa.String(length=200), nullable=False),
        sa.Column("signer_title", sa.String(length=200), nullable=False),
        sa.Column("signer_name", sa.String(length=200), nullable=False),
        sa.Column("recipients", sa.Text(), nullable=False),
        sa.Column("intro", sa.Text(), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", lms.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["course_id"], ["course.id"], ondelete="CASCADE",
                                name=op.f("fk_report_settings_course_id_course")),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], name=op.f("fk_report_settings_unit_id_unit")),
        sa.ForeignKeyConstraint(["updated_by_id"], ["user.id"], name=op.f("fk_report_settings_updated_by_id_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_settings")),
    )
    op.create_index("ix_report_settings_course_unit", "report_settings", ["course_id", "unit_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_report_settings_course_unit", table_name="report_settings")
    op.drop_table("report_settings")
