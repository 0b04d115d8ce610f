"""Unit tests of services/intake/ratelimit."""
