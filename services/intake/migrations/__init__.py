"""Alembic migrations of the ticket database: `linli db upgrade`, also applied when intake and workers start."""
