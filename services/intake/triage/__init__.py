"""Triage: the Celery app and task that route a stored ticket."""
