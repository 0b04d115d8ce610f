"""Unit tests of services/intake/notifications."""
