"""Intake's Celery worker: the app and its queues (celery_app.py), the tasks it runs (tasks.py), its entry (main.py)."""
