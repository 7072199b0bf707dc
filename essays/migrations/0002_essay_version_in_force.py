"""covering index for the version in force as of a time (completeness)

Revision ID: essays_version_in_force
Revises: 155317abab5f
Create Date: 2026-11-25
"""
from alembic import op

revision = "essays_version_in_force"
down_revision = "155317abab5f"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Completeness reads only these columns of every version: with them in the index it never
    # touches the table rows (whose essay text would sit in front of is_late).
    op.create_index("ix_essay_version_in_force", "essay_version",
                    ["essay_id", "number", "submitted_at", "is_late", "under_extension"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_essay_version_in_force", table_name="essay_version")
