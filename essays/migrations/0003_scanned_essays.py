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
    with op.batch_alter_table("essay_version", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ocr", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("ocr_confidence", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("needs_reading", sa.Boolean(), server_default=sa.false(), nullable=False))
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
    with op.batch_alter_table("essay_version_file", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_essay_version_file_version_id"), ["version_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_essay_version_file_sha256"), ["sha256"], unique=False)


def downgrade() -> None:
    op.drop_table("essay_version_file")
    with op.batch_alter_table("essay_version", schema=None) as batch_op:
        batch_op.drop_column("needs_reading")
        batch_op.drop_column("ocr_confidence")
        batch_op.drop_column("ocr")
