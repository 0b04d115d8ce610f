"""Reliability suite: the whole stack as child processes under sustained load and faults (docs/reliability.md)."""
