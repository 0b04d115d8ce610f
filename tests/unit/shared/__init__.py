"""Unit tests of the shared package linli/."""
