"""Token revocation by subject: the revoked_subjects table.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Creates revoked_subjects, one row per (kind, subject) whose older tokens are refused."""
    op.create_table(
        "revoked_subjects",
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(128), nullable=False),
        sa.Column("revoked_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("kind", "subject", name="pk_revoked_subjects"),
    )


def downgrade() -> None:
    """Drops revoked_subjects: every revoked token is accepted again until it expires."""
    op.drop_table("revoked_subjects")
