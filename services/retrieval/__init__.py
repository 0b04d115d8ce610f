"""Retrieval: embeds complaints and finds similar resolved cases in a FAISS index."""
