"""Meeting items: hot topics put to the residents' meeting (议事协商) and what it decided.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None

_OPEN = sa.text("status IN ('proposed', 'scheduled')")


def upgrade() -> None:
    """Creates meeting_items, with at most one open (proposed or scheduled) item per community and topic."""
    op.create_table(
        "meeting_items",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("community", sa.String(128), nullable=False),
        sa.Column("topic_key", sa.String(128), nullable=False),
        sa.Column("title", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("week", sa.String(8), nullable=False),
        sa.Column("residents", sa.Integer(), nullable=False),
        sa.Column("reports", sa.Integer(), nullable=False),
        sa.Column("proposed_by", sa.String(160), nullable=False),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("meeting_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("updated_by", sa.String(160), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_meeting_items"),
    )
    op.create_index("ix_meeting_items_community", "meeting_items", ["community"])
    op.create_index(
        "uq_meeting_items_open_topic",
        "meeting_items",
        ["community", "topic_key"],
        unique=True,
        postgresql_where=_OPEN,
        sqlite_where=_OPEN,
    )


def downgrade() -> None:
    """Drops the meeting items (the tickets and topics they came from stay)."""
    op.drop_index("uq_meeting_items_open_topic", table_name="meeting_items")
    op.drop_index("ix_meeting_items_community", table_name="meeting_items")
    op.drop_table("meeting_items")
