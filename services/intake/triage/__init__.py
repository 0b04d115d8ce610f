"""Triage: the routing decision as intake stores it (decision.py) and recording it on a ticket (flows.py)."""
