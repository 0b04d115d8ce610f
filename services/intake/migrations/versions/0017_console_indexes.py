"""The console's indexes at a district's volume (bench/console_queries.py, 1,000,000 tickets): a dispatcher's sets in
one community by status and deadline, and a party's open tickets newest first.

Without them a dispatcher's inbox (their party's tickets or the manual queue: an OR no party index answers) ANDed
the community's bitmap with the status index's 150,000 open tickets (35 ms a page, 27 ms its count), and a street's
newest open tickets walked the created_at index through resolved ones (34-55 ms).

Revision ID: 0017
Revises: 0015 on this branch; 0016 (contact_phone, another branch) once merged: the final chain is 0016 -> 0017
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision: str | None = "0016"
branch_labels: str | None = None
depends_on: str | None = None

# The inbox's open sets (open or waiting for the resident) as they stood at this migration: a migration is frozen.
_OPEN_OR_WAITING = (
    "status IN ('accepted', 'in_progress', 'needs_manual', 'reopened', 'routed', 'transferred', 'waiting_resident')"
)


def upgrade() -> None:
    """Creates both indexes (the second partial, over open tickets only, on PostgreSQL and SQLite alike)."""
    op.create_index("ix_tickets_community_status_sla_due_at", "tickets", ["community", "status", "sla_due_at"])
    op.create_index(
        "ix_tickets_open_party_created_at",
        "tickets",
        ["party", "created_at"],
        postgresql_where=sa.text(_OPEN_OR_WAITING),
        sqlite_where=sa.text(_OPEN_OR_WAITING),
    )


def downgrade() -> None:
    """Drops them; the inbox answers the same, slower."""
    op.drop_index("ix_tickets_open_party_created_at", table_name="tickets")
    op.drop_index("ix_tickets_community_status_sla_due_at", table_name="tickets")
