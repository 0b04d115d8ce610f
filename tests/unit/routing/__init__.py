"""Unit tests of services/routing."""
