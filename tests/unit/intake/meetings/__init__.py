"""Unit tests of services/intake/meetings."""
