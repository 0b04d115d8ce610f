"""Unit tests of services/intake/triage."""
