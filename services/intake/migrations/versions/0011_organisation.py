"""Organisation: streets, communities (by name, optionally on a street), parties (seeded with the default three) and
workers (party, community or street scope, role, WeCom userid).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None

# The parties of linli/parties.py, as they stood when this migration was written (a migration never imports them:
# it must create the same rows whatever the code says later).
DEFAULT_PARTIES = (
    ("property_manager", "物业"),
    ("owners_committee", "业委会"),
    ("street_office", "街道/社区"),
)


def upgrade() -> None:
    """Creates streets, communities, parties (with the default three) and workers; intake's start seeds the
    communities of LINLI_INTAKE_KNOWN_COMMUNITIES."""
    op.create_table(
        "streets",
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("code", name="pk_streets"),
    )
    op.create_table(
        "communities",
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("street_code", sa.String(64), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_communities"),
        sa.ForeignKeyConstraint(["street_code"], ["streets.code"], name="fk_communities_street_code_streets"),
    )
    op.create_index("ix_communities_street_code", "communities", ["street_code"])
    parties = op.create_table(
        "parties",
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("code", name="pk_parties"),
    )
    op.bulk_insert(parties, [{"code": code, "name": name} for code, name in DEFAULT_PARTIES])
    op.create_table(
        "workers",
        sa.Column("worker_id", sa.String(128), nullable=False),
        sa.Column("display_name", sa.String(128), nullable=False),
        sa.Column("party", sa.String(64), nullable=False),
        sa.Column("community", sa.String(128), nullable=False),
        sa.Column("street", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("wecom_userid", sa.String(64), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("worker_id", name="pk_workers"),
        sa.ForeignKeyConstraint(["party"], ["parties.code"], name="fk_workers_party_parties"),
        sa.UniqueConstraint("wecom_userid", name="uq_workers_wecom_userid"),
    )
    op.create_index("ix_workers_party", "workers", ["party"])


def downgrade() -> None:
    """Drops the organisation tables: tickets keep their community names; workers sign in with tokens only."""
    op.drop_table("workers")
    op.drop_table("parties")
    op.drop_table("communities")
    op.drop_table("streets")
