"""SMS login codes: one row per phone (by its keyed digest) with the pending code's HMAC, limits and lock.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Creates sms_codes; it holds no phone number and no code in the clear."""
    op.create_table(
        "sms_codes",
        sa.Column("phone_key", sa.String(64), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_day", sa.String(10), nullable=False),
        sa.Column("sent_today", sa.Integer(), nullable=False),
        sa.Column("wrong_attempts", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("phone_key", name="pk_sms_codes"),
    )
    op.create_index("ix_sms_codes_last_sent_at", "sms_codes", ["last_sent_at"])


def downgrade() -> None:
    """Drops sms_codes: pending codes, limits and locks are forgotten."""
    op.drop_table("sms_codes")
