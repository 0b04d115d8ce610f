"""Ticket search in the database: FTS5 trigram on SQLite, pg_trgm (and a bigram index for two-character Chinese
words) on PostgreSQL (docs/adr/0013-ticket-search-in-the-database.md).

Revision ID: 0013
Revises: 0010 (on this branch; the final chain is 0012 -> 0013)
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision: str | None = "0012"
# The searched columns (services/intake/search/models.py SEARCHED_COLUMNS, copied: a migration is frozen).
_COLUMNS = ("text", "building", "resolution")
branch_labels: str | None = None
depends_on: str | None = None

# SQLite: the trigram index over a copy of the searched columns. Its rowids are `ticket_search_docs.doc`, an INTEGER
# PRIMARY KEY: VACUUM may renumber the implicit rowids of `tickets` (its key is text), which would orphan the index.
_SQLITE_UP = [
    "CREATE TABLE ticket_search_docs (doc INTEGER PRIMARY KEY, ticket_id VARCHAR(32) NOT NULL UNIQUE)",
    "CREATE VIRTUAL TABLE ticket_search USING fts5(text, building, resolution, tokenize='trigram')",
    """CREATE TRIGGER ticket_search_insert AFTER INSERT ON tickets BEGIN
        INSERT INTO ticket_search_docs (ticket_id) VALUES (new.id);
        INSERT INTO ticket_search (rowid, text, building, resolution)
            VALUES ((SELECT doc FROM ticket_search_docs WHERE ticket_id = new.id),
                    new.text, new.building, new.resolution);
    END""",
    """CREATE TRIGGER ticket_search_update AFTER UPDATE OF text, building, resolution ON tickets BEGIN
        UPDATE ticket_search SET text = new.text, building = new.building, resolution = new.resolution
            WHERE rowid = (SELECT doc FROM ticket_search_docs WHERE ticket_id = old.id);
    END""",
    """CREATE TRIGGER ticket_search_delete AFTER DELETE ON tickets BEGIN
        DELETE FROM ticket_search WHERE rowid = (SELECT doc FROM ticket_search_docs WHERE ticket_id = old.id);
        DELETE FROM ticket_search_docs WHERE ticket_id = old.id;
    END""",
    # The tickets already there.
    "INSERT INTO ticket_search_docs (ticket_id) SELECT id FROM tickets ORDER BY created_at",
    """INSERT INTO ticket_search (rowid, text, building, resolution)
        SELECT d.doc, t.text, t.building, t.resolution
        FROM ticket_search_docs d JOIN tickets t ON t.id = d.ticket_id""",
]
_SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS ticket_search_delete",
    "DROP TRIGGER IF EXISTS ticket_search_update",
    "DROP TRIGGER IF EXISTS ticket_search_insert",
    "DROP TABLE IF EXISTS ticket_search",
    "DROP TABLE IF EXISTS ticket_search_docs",
]

# PostgreSQL: trigram GIN indexes answer ILIKE '%q%' for q of three characters or more; pg_trgm extracts no trigram
# from a shorter q, so two-character words (漏水, 电梯) are looked up in a GIN index of each column's character pairs.
_BIGRAMS_FUNCTION = """
CREATE OR REPLACE FUNCTION linli_bigrams(value text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(DISTINCT substr(lower(value), i, 2)), '{}')
    FROM generate_series(1, char_length(value) - 1) AS i
$$"""
_PG_UP = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    _BIGRAMS_FUNCTION,
    *(f"CREATE INDEX ix_tickets_{c}_trgm ON tickets USING gin ({c} gin_trgm_ops)" for c in _COLUMNS),
    *(f"CREATE INDEX ix_tickets_{c}_bigrams ON tickets USING gin (linli_bigrams({c}))" for c in _COLUMNS),
    # A ticket number's prefix (the console shows eight characters) as a range of the key: the primary key's btree
    # answers it under every collation, so no pattern index is needed.
]
_PG_DOWN = [
    *(f"DROP INDEX IF EXISTS ix_tickets_{c}_bigrams" for c in _COLUMNS),
    *(f"DROP INDEX IF EXISTS ix_tickets_{c}_trgm" for c in _COLUMNS),
    "DROP FUNCTION IF EXISTS linli_bigrams(text)",
    # pg_trgm stays: other databases' objects may use it, and it costs nothing unused.
]


def upgrade() -> None:
    """Creates the search structures of the dialect and fills them from the tickets already stored."""
    for statement in _PG_UP if op.get_bind().dialect.name == "postgresql" else _SQLITE_UP:
        op.execute(statement)


def downgrade() -> None:
    """Drops them; searching then fails until upgraded again, everything else works."""
    for statement in _PG_DOWN if op.get_bind().dialect.name == "postgresql" else _SQLITE_DOWN:
        op.execute(statement)
