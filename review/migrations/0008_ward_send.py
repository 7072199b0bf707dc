"""ward compilation: tags made by a ward officer, the trainee-name setting, and the reports wards send

Revision ID: review_ward_send
Revises: review_compile (and needs review_report)
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa

import lms.db

revision = "review_ward_send"
down_revision = "review_compile"
branch_labels = None
depends_on = ("review_report",)


def upgrade() -> None:
    # Plain ADD COLUMN (no table copy): existing tags are the Board's, existing settings cite names.
    op.add_column("tag", sa.Column("by_ward", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("report_settings", sa.Column("cite_names", sa.Boolean(), nullable=False,
                                               server_default=sa.true()))
    op.create_table(
        "ward_report",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("sent_at", lms.db.UTCDateTime(), nullable=False),
        sa.Column("sent_by_id", sa.Integer(), nullable=True),
        sa.Column("docx_sha256", sa.String(length=64), nullable=False),
        sa.Column("xlsx_sha256", sa.String(length=64), nullable=False),
        sa.Column("cite_names", sa.Boolean(), nullable=False),
        sa.Column("passage_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["course_id"], ["course.id"], ondelete="CASCADE",
                                name=op.f("fk_ward_report_course_id_course")),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], name=op.f("fk_ward_report_unit_id_unit")),
        sa.ForeignKeyConstraint(["sent_by_id"], ["user.id"], name=op.f("fk_ward_report_sent_by_id_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ward_report")),
        sa.UniqueConstraint("course_id", "unit_id", "version", name=op.f("uq_ward_report_course_id_unit_id_version")),
    )
    op.create_table(
        "ward_report_passage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("essay_id", sa.Integer(), nullable=False),
        sa.Column("version_number", sa.Integer(), nullable=False),
        sa.Column("start_offset", sa.Integer(), nullable=False),
        sa.Column("end_offset", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("topic_id", sa.Integer(), nullable=True),
        sa.Column("topic_position", sa.Integer(), nullable=False),
        sa.Column("topic_title", sa.String(length=500), nullable=False),
        sa.Column("trainee", sa.String(length=200), nullable=False),
        sa.Column("tag_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["report_id"], ["ward_report.id"], ondelete="CASCADE",
                                name=op.f("fk_ward_report_passage_report_id_ward_report")),
        sa.ForeignKeyConstraint(["essay_id"], ["essay.id"], name=op.f("fk_ward_report_passage_essay_id_essay")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ward_report_passage")),
    )
    op.create_index(op.f("ix_ward_report_passage_report_id"), "ward_report_passage", ["report_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_ward_report_passage_report_id"), table_name="ward_report_passage")
    op.drop_table("ward_report_passage")
    op.drop_table("ward_report")
    with op.batch_alter_table("report_settings") as batch:
        batch.drop_column("cite_names")
    with op.batch_alter_table("tag") as batch:
        batch.drop_column("by_ward")
