"""Ticket location: the latitude and longitude of the problem, when the resident or client gave a point.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Adds the nullable latitude and longitude columns: existing tickets have no point."""
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("latitude", sa.Float(), nullable=True))
        batch.add_column(sa.Column("longitude", sa.Float(), nullable=True))


def downgrade() -> None:
    """Drops the location columns: the points stored since are lost."""
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("longitude")
        batch.drop_column("latitude")
