"""Ticket messages: the conversation between the resident and the party handling a ticket, workers' internal notes,
and the waiting state that pauses the SLA clock while a question to the resident is open.

Revision ID: 0009
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Creates ticket_messages and adds the waiting state and the unread count to tickets."""
    op.create_table(
        "ticket_messages",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("ticket_id", sa.String(32), nullable=False),
        sa.Column("author", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(160), nullable=False),
        sa.Column("party", sa.String(64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("internal", sa.Boolean(), nullable=False),
        sa.Column("asks_resident", sa.Boolean(), nullable=False),
        sa.Column("attachment_urls", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name="fk_ticket_messages_ticket_id_tickets", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_ticket_messages"),
    )
    op.create_index("ix_ticket_messages_ticket_id_created_at", "ticket_messages", ["ticket_id", "created_at"])
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("waiting_since", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("status_before_waiting", sa.String(16), nullable=False, server_default=""))
        batch.add_column(sa.Column("sla_paused_seconds", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("unread_resident_messages", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    """Drops the messages and the waiting state; a ticket still waiting goes back to the status it waited in."""
    op.execute(
        "UPDATE tickets SET status = status_before_waiting "
        "WHERE status = 'waiting_resident' AND status_before_waiting != ''"
    )
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("unread_resident_messages")
        batch.drop_column("sla_paused_seconds")
        batch.drop_column("status_before_waiting")
        batch.drop_column("waiting_since")
    op.drop_index("ix_ticket_messages_ticket_id_created_at", table_name="ticket_messages")
    op.drop_table("ticket_messages")
