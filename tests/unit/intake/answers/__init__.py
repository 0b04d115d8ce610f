"""Unit tests of services/intake/answers."""
