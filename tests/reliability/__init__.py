"""Reliability tests: the whole stack under faults (bench/reliability), and the audit that judges it."""
