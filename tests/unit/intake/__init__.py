"""Unit tests of services/intake."""
