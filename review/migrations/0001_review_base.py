"""review branch base (no tables yet)

Revision ID: review_base
Revises:
Create Date: 2026-11-25
"""

revision = "review_base"
down_revision = None
branch_labels = ("review",)
depends_on = ("essays",)


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
