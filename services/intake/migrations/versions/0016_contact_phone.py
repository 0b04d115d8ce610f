"""The resident's optional callback phone (联系电话) on tickets: its own column, '' when none was given.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision: str | None = "0015"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Adds tickets.contact_phone (existing tickets have none: '')."""
    op.add_column("tickets", sa.Column("contact_phone", sa.String(20), nullable=False, server_default=""))


def downgrade() -> None:
    """Drops the column, and with it every callback number."""
    op.drop_column("tickets", "contact_phone")
