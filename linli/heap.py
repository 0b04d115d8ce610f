"""Keeps the garbage collector off the objects a service builds once at start.

A service's start (modules, the web app, models, the catalog, an index of cases) leaves millions of long-lived objects
in the collector's oldest generation, and every full collection walks all of them again: under a burst of tickets
intake spent about 7 % of its CPU in collections that found nothing among them. `gc.freeze()` moves what exists at
the end of the start into a permanent generation that collections skip; it is freed as usual by reference counting.
"""

from __future__ import annotations

import gc


def freeze_startup_objects() -> None:
    """Collects the start's garbage, then exempts every object still alive from later collections."""
    gc.collect()
    gc.freeze()
