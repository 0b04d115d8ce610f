"""Dashboard columns: response and resolution times, on-time resolution, reopen and transfer counts on tickets,
backfilled from ticket_events, so that the dashboards (services/intake/dashboards) aggregate one table.

Revision ID: 0014
Revises: 0013 (0011-0013 come from other branches; on this branch the chain is 0010 -> 0014)
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision: str | None = "0013"
branch_labels: str | None = None
depends_on: str | None = None

_COLUMNS = ("accept_seconds", "resolve_seconds", "resolved_on_time", "reopen_count", "transfer_count")


def _seconds_between(start: str, end: str) -> str:
    """SQL for the whole seconds from `start` to `end` on this database."""
    if op.get_bind().dialect.name == "postgresql":
        return f"CAST(EXTRACT(EPOCH FROM ({end} - {start})) AS INTEGER)"
    return f"CAST(ROUND((julianday({end}) - julianday({start})) * 86400) AS INTEGER)"


def upgrade() -> None:
    """Adds the columns and fills them from each ticket's history; whether an old resolution met its deadline is
    not recorded anywhere (resolving clears the deadline), so resolved_on_time stays NULL for those."""
    # Plain ALTER TABLE, no batch (see 0009): SQLite adds plain columns in place.
    op.add_column("tickets", sa.Column("accept_seconds", sa.Integer(), nullable=True))
    op.add_column("tickets", sa.Column("resolve_seconds", sa.Integer(), nullable=True))
    op.add_column("tickets", sa.Column("resolved_on_time", sa.Boolean(), nullable=True))
    op.add_column("tickets", sa.Column("reopen_count", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("tickets", sa.Column("transfer_count", sa.Integer(), nullable=False, server_default="0"))
    first_accepted = "(SELECT MIN(e.at) FROM ticket_events e WHERE e.ticket_id = tickets.id AND e.kind = 'accepted')"
    # The SQL below is built from this module's constants only, never from input.
    op.execute(f"UPDATE tickets SET accept_seconds = {_seconds_between('created_at', first_accepted)}")  # noqa: S608
    op.execute(
        f"UPDATE tickets SET resolve_seconds = {_seconds_between('created_at', 'resolved_at')} "  # noqa: S608
        "WHERE resolved_at IS NOT NULL"
    )
    for column, kind in (("reopen_count", "reopened"), ("transfer_count", "transferred")):
        op.execute(
            f"UPDATE tickets SET {column} = (SELECT COUNT(*) FROM ticket_events e "  # noqa: S608
            f"WHERE e.ticket_id = tickets.id AND e.kind = '{kind}')"
        )


def downgrade() -> None:
    """Drops the columns (the history they were computed from stays)."""
    for column in reversed(_COLUMNS):
        op.drop_column("tickets", column)
