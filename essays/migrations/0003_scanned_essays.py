"""photographed and scanned essays: OCR flag and confidence, needs_reading, originals and page previews

Revision ID: essays_scanned
Revises: essays_version_in_force
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = "essays_scanned"
down_revision = "essays_version_in_force"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN, not batch mode: on SQLite a batch copy of essay_version would drop the
    # completeness triggers review's migration 0006 put on it.
    op.add_column("essay_version", sa.Column("ocr", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column("essay_version", sa.Column("ocr_confidence", sa.Float(), nullable=True))
    op.add_column("essay_version", sa.Column("needs_reading", sa.Boolean(), server_default=sa.false(),
                                             nullable=False))
    op.create_table(
        "essay_version_file",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["version_id"], ["essay_version.id"],
                                name=op.f("fk_essay_version_file_version_id_essay_version")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_essay_version_file")),
        sa.UniqueConstraint("version_id", "role", "position",
                            name=op.f("uq_essay_version_file_version_id_role_position")),
    )
    op.create_index(op.f("ix_essay_version_file_version_id"), "essay_version_file", ["version_id"], unique=False)
    op.create_index(op.f("ix_essay_version_file_sha256"), "essay_version_file", ["sha256"], unique=False)


def downgrade() -> None:
    op.drop_table("essay_version_file")
    # SQLite: the batch copy drops review's completeness triggers; re-run review's 0006 after this.
    with op.batch_alter_table("essay_version", schema=None) as batch_op:
        batch_op.drop_column("needs_reading")
        batch_op.drop_column("ocr_confidence")
        batch_op.drop_column("ocr")
