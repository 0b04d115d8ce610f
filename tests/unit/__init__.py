"""In-process tests with fakes where a real part would be slow."""
