"""Sentence embeddings shared by retrieval (the index) and routing (features): one interface, two backends."""

from linli.embedding.backends import (
    OnnxInt8Embedder,
    SentenceTransformerEmbedder,
    create_embedder,
    quantised_model_file,
)
from linli.embedding.config import EmbedderConfig, embedded_model_path
from linli.embedding.fingerprint import model_fingerprint
from linli.embedding.protocol import Embedder, Vectors

__all__ = [
    "Embedder",
    "EmbedderConfig",
    "OnnxInt8Embedder",
    "SentenceTransformerEmbedder",
    "Vectors",
    "create_embedder",
    "embedded_model_path",
    "model_fingerprint",
    "quantised_model_file",
]
