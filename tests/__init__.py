"""linli's test suite."""
