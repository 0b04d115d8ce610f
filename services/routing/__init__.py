"""Routing: decides which party handles a complaint, with a confidence, a rationale and precedents."""
