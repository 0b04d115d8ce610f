"""Intake: takes residents' complaints as tickets, queues their triage and serves workers' actions."""
