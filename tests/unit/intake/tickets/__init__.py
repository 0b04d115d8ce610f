"""Unit tests of services/intake/tickets."""
