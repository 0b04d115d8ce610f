"""Hostile-input fuzzing of the HTTP API and the gRPC services."""
