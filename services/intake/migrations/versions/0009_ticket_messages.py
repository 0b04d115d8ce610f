"""Ticket messages: the conversation between the resident and the party handling a ticket, workers' internal notes,
and the waiting state that pauses the SLA clock while a question to the resident is open.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Creates ticket_messages and adds the waiting state and the unread count to tickets."""
    # Plain ALTER TABLE, no batch: a rebuilt copy of tickets would reference the old one (primary_id, split_from_id)
    # and SQLite could not drop it with foreign keys on. SQLite adds and (since 3.35) drops plain columns in place.
    op.add_column("tickets", sa.Column("waiting_since", sa.DateTime(timezone=True), nullable=True))
    op.add_column("tickets", sa.Column("status_before_waiting", sa.String(16), nullable=False, server_default=""))
    op.add_column("tickets", sa.Column("sla_paused_seconds", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("tickets", sa.Column("unread_resident_messages", sa.Integer(), nullable=False, server_default="0"))

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


def downgrade() -> None:
    """Drops the messages and the waiting state; a ticket still waiting goes back to the status it waited in."""
    op.execute(
        "UPDATE tickets SET status = status_before_waiting "
        "WHERE status = 'waiting_resident' AND status_before_waiting != ''"
    )
    op.drop_index("ix_ticket_messages_ticket_id_created_at", table_name="ticket_messages")
    op.drop_table("ticket_messages")
    for column in ("unread_resident_messages", "sla_paused_seconds", "status_before_waiting", "waiting_since"):
        op.drop_column("tickets", column)
