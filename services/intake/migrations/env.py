"""Alembic environment: runs on the connection that services.intake.database hands over, never builds its own."""

from __future__ import annotations

from alembic import context

from services.intake.schema import METADATA, declared_by_models

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=METADATA,
    # SQLite cannot ALTER constraints: batch mode rebuilds the table there and is plain ALTER elsewhere.
    render_as_batch=True,
    compare_type=True,
    # The search structures of migration 0013 (FTS5 tables, trigram indexes) are declared by no model.
    include_name=declared_by_models,
)
with context.begin_transaction():
    context.run_migrations()
