"""Unit tests of services/intake/topics."""
