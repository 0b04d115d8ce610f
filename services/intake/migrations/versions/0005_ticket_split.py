"""Ticket split: the ticket a worker split one problem of a message off from ("一单多事").

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Adds the nullable split_from_id link (indexed: a ticket lists the tickets split off from it)."""
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("split_from_id", sa.String(32), nullable=True))
        batch.create_foreign_key("fk_tickets_split_from_id_tickets", "tickets", ["split_from_id"], ["id"])
        batch.create_index("ix_tickets_split_from_id", ["split_from_id"])


def downgrade() -> None:
    """Drops the link: the split-off tickets stay, as tickets of their own."""
    with op.batch_alter_table("tickets") as batch:
        batch.drop_index("ix_tickets_split_from_id")
        batch.drop_constraint("fk_tickets_split_from_id_tickets", type_="foreignkey")
        batch.drop_column("split_from_id")
