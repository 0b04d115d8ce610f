"""Tests with real gRPC servers, Celery, Redis and PostgreSQL."""
