"""Ticket lifecycle: priority, SLA and escalation level, duplicates, worker party on events, routing corrections.

Revision ID: 0002
Revises: 0001
Create Date: 2026-01-12
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def _new_ticket_columns() -> list[sa.Column[object]]:
    # Existing rows get these server defaults; new rows get their values from the application.
    return [
        sa.Column("routed_party", sa.String(64), nullable=False, server_default=""),
        sa.Column("catalog_entry", sa.String(128), nullable=False, server_default=""),
        sa.Column("urgency", sa.String(16), nullable=False, server_default="normal"),
        sa.Column("priority", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("escalation_level", sa.String(16), nullable=False, server_default="community"),
        sa.Column("sla_hours", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("sla_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("assignee_worker_id", sa.String(128), nullable=False, server_default=""),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reporter_count", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("primary_id", sa.String(32), nullable=True),
        sa.Column("embedding", sa.LargeBinary(), nullable=True),
        sa.Column("embedding_model", sa.String(128), nullable=False, server_default=""),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("case_sync_pending", sa.Boolean(), nullable=False, server_default=sa.false()),
    ]


def upgrade() -> None:
    """Adds the lifecycle columns, their indexes and the routing_corrections table."""
    with op.batch_alter_table("tickets") as batch:
        for column in _new_ticket_columns():
            batch.add_column(column)
        batch.create_foreign_key("fk_tickets_primary_id_tickets", "tickets", ["primary_id"], ["id"])
        batch.create_index("ix_tickets_catalog_entry", ["catalog_entry"])
        batch.create_index("ix_tickets_primary_id", ["primary_id"])
        batch.create_index("ix_tickets_case_sync_pending", ["case_sync_pending"])
        batch.create_index("ix_tickets_status_sla_due_at", ["status", "sla_due_at"])
        batch.create_index("ix_tickets_community_created_at", ["community", "created_at"])
    with op.batch_alter_table("ticket_events") as batch:
        batch.add_column(sa.Column("party", sa.String(64), nullable=False, server_default=""))
    op.create_table(
        "routing_corrections",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ticket_id", sa.String(32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("from_party", sa.String(64), nullable=False),
        sa.Column("to_party", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("worker_id", sa.String(128), nullable=False),
        sa.Column("catalog_entry", sa.String(128), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name="fk_routing_corrections_ticket_id_tickets", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_routing_corrections"),
    )
    op.create_index("ix_routing_corrections_ticket_id", "routing_corrections", ["ticket_id"])
    op.create_index("ix_routing_corrections_at", "routing_corrections", ["at"])


def downgrade() -> None:
    """Removes what upgrade added."""
    op.drop_table("routing_corrections")
    with op.batch_alter_table("ticket_events") as batch:
        batch.drop_column("party")
    with op.batch_alter_table("tickets") as batch:
        for name in (
            "ix_tickets_community_created_at",
            "ix_tickets_status_sla_due_at",
            "ix_tickets_case_sync_pending",
            "ix_tickets_primary_id",
            "ix_tickets_catalog_entry",
        ):
            batch.drop_index(name)
        batch.drop_constraint("fk_tickets_primary_id_tickets", type_="foreignkey")
        for column in reversed(_new_ticket_columns()):
            batch.drop_column(column.name)
