"""The reliability tests reuse the integration tests' corpus slice: the servers start in seconds on it."""

from tests.integration.conftest import corpus_slice

__all__ = ["corpus_slice"]
