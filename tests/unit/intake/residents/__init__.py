"""Unit tests of services/intake/residents."""
