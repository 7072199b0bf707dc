"""compile: a span of a version tagged once, theme models, copied essays

Revision ID: review_compile
Revises: review_tagging
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa

import lms.db

revision = "review_compile"
down_revision = "review_tagging"
branch_labels = None
depends_on = None

# Tags made twice on the same span of the same version become one (the oldest): its themes gain
# the others', suggestions and duplicates that pointed at a twin point at it.
_TWINS = ("SELECT t.id AS twin, (SELECT MIN(k.id) FROM tag k WHERE k.version_id = t.version_id "
          "AND k.start_offset = t.start_offset AND k.end_offset = t.end_offset) AS keep FROM tag t")
_MERGE = [
    "INSERT INTO tag_theme (tag_id, theme_id) SELECT DISTINCT p.keep, tt.theme_id FROM tag_theme tt "
    "JOIN ({twins}) p ON p.twin = tt.tag_id WHERE p.twin <> p.keep AND NOT EXISTS "
    "(SELECT 1 FROM tag_theme x WHERE x.tag_id = p.keep AND x.theme_id = tt.theme_id)",
    "UPDATE suggestion SET tag_id = (SELECT p.keep FROM ({twins}) p WHERE p.twin = suggestion.tag_id) "
    "WHERE tag_id IN (SELECT p.twin FROM ({twins}) p WHERE p.twin <> p.keep)",
    "UPDATE tag SET duplicate_of_id = (SELECT p.keep FROM ({twins}) p WHERE p.twin = tag.duplicate_of_id) "
    "WHERE duplicate_of_id IN (SELECT p.twin FROM ({twins}) p WHERE p.twin <> p.keep)",
    "DELETE FROM tag_theme WHERE tag_id IN (SELECT p.twin FROM ({twins}) p WHERE p.twin <> p.keep)",
    "DELETE FROM tag WHERE id IN (SELECT p.twin FROM ({twins}) p WHERE p.twin <> p.keep)",
]


def upgrade() -> None:
    for statement in _MERGE:
        op.execute(statement.format(twins=_TWINS))
    op.create_index("uq_tag_version_span", "tag", ["version_id", "start_offset", "end_offset"], unique=True)
    op.create_table(
        "theme_model",
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("n_tags", sa.Integer(), nullable=False),
        sa.Column("trained_at", lms.db.UTCDateTime(), nullable=False),
        sa.Column("model", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["course_id"], ["course.id"], name=op.f("fk_theme_model_course_id_course"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("course_id", name=op.f("pk_theme_model")),
    )
    op.create_table(
        "essay_copy",
        sa.Column("essay_id", sa.Integer(), nullable=False),
        sa.Column("other_id", sa.Integer(), nullable=False),
        sa.Column("ratio", sa.Float(), nullable=False),
        sa.Column("found_at", lms.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["essay_id"], ["essay.id"], name=op.f("fk_essay_copy_essay_id_essay"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["other_id"], ["essay.id"], name=op.f("fk_essay_copy_other_id_essay"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("essay_id", "other_id", name=op.f("pk_essay_copy")),
    )
    op.create_index(op.f("ix_essay_copy_other_id"), "essay_copy", ["other_id"], unique=False)
    op.create_table(
        "copy_scan",
        sa.Column("essay_id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["essay_id"], ["essay.id"], name=op.f("fk_copy_scan_essay_id_essay"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["version_id"], ["essay_version.id"],
                                name=op.f("fk_copy_scan_version_id_essay_version"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("essay_id", name=op.f("pk_copy_scan")),
    )


def downgrade() -> None:
    op.drop_table("copy_scan")
    op.drop_index(op.f("ix_essay_copy_other_id"), table_name="essay_copy")
    op.drop_table("essay_copy")
    op.drop_table("theme_model")
    op.drop_index("uq_tag_version_span", table_name="tag")
