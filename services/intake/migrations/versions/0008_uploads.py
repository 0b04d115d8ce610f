"""Uploads: residents' and workers' photos, kept in the object store, one row each here.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Creates uploads; a ticket's deletion takes its rows with it."""
    op.create_table(
        "uploads",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("uploader", sa.String(160), nullable=False),
        sa.Column("ticket_id", sa.String(32), nullable=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("content_type", sa.String(32), nullable=False),
        sa.Column("photo_key", sa.String(128), nullable=False),
        sa.Column("thumbnail_key", sa.String(128), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name="fk_uploads_ticket_id_tickets", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_uploads"),
    )
    op.create_index("ix_uploads_uploader", "uploads", ["uploader"])
    op.create_index("ix_uploads_ticket_id", "uploads", ["ticket_id"])
    op.create_index("ix_uploads_created_at", "uploads", ["created_at"])


def downgrade() -> None:
    """Drops the uploads' rows (the objects in the store stay: remove them with the store's own tools)."""
    op.drop_index("ix_uploads_created_at", table_name="uploads")
    op.drop_index("ix_uploads_ticket_id", table_name="uploads")
    op.drop_index("ix_uploads_uploader", table_name="uploads")
    op.drop_table("uploads")
