"""Unit tests of services/intake/auth."""
