"""The inbox on the server: indexes for its sets by deadline, priority and age, a worker's own tickets and who acted
for which party; and the workers' saved views.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
# The final chain is 0011 -> 0012: 0011 (on another branch) is not here yet, so this branch chains onto 0010.
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None

_TICKET_INDEXES = {
    "ix_tickets_party_community_status_sla_due_at": ["party", "community", "status", "sla_due_at"],
    "ix_tickets_party_status_priority_sla_due_at": ["party", "status", "priority", "sla_due_at"],
    "ix_tickets_party_status_created_at": ["party", "status", "created_at"],
    "ix_tickets_assignee_worker_id_status": ["assignee_worker_id", "status"],
}


def upgrade() -> None:
    """Adds the inbox's indexes and creates saved_views."""
    for name, columns in _TICKET_INDEXES.items():
        op.create_index(name, "tickets", columns)
    op.create_index("ix_ticket_events_actor_party", "ticket_events", ["actor", "party"])
    op.create_table(
        "saved_views",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("worker_id", sa.String(128), nullable=False),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_saved_views"),
    )
    op.create_index("ix_saved_views_worker_id", "saved_views", ["worker_id"])


def downgrade() -> None:
    """Drops saved_views and the inbox's indexes: saved views are forgotten."""
    op.drop_table("saved_views")
    op.drop_index("ix_ticket_events_actor_party", table_name="ticket_events")
    for name in _TICKET_INDEXES:
        op.drop_index(name, table_name="tickets")
