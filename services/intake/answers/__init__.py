"""Instant answers: a resident's question answered from a resolved precedent before any ticket is filed."""
