"""Unit tests of services/intake/open311."""
