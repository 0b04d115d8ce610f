"""List indexes: Open311's search by status or by service within a date range reads an index, not the table.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Adds (status, created_at) and (catalog_entry, created_at); (community, created_at) exists since 0002."""
    op.create_index("ix_tickets_status_created_at", "tickets", ["status", "created_at"])
    op.create_index("ix_tickets_catalog_entry_created_at", "tickets", ["catalog_entry", "created_at"])


def downgrade() -> None:
    """Drops the two indexes (the searches still answer, scanning more)."""
    op.drop_index("ix_tickets_catalog_entry_created_at", table_name="tickets")
    op.drop_index("ix_tickets_status_created_at", table_name="tickets")
