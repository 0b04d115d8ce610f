"""The complaints a run submits: the resolved-case corpus's texts, shuffled with a fixed seed, from many residents."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

from bench.reliability.residents import Submission

ROOT = Path(__file__).resolve().parents[2]
COMPLAINTS = ROOT / "services" / "retrieval" / "corpus" / "resolved_cases.jsonl"
SEED = 5
# Each resident submits a few tickets in a run, as neighbours do; each logs in once.
RESIDENTS = 500


def complaint_bodies(communities: list[str], source: Path = COMPLAINTS) -> Iterator[dict[str, str]]:
    """An endless stream of submit bodies.

    The first pass keeps each complaint in its own community. Later passes move every complaint one community
    further along, so a repeated text is a new problem somewhere else rather than a duplicate of an open ticket.
    """
    rows = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [row for row in rows if row["community"] in communities]
    random.Random(SEED).shuffle(rows)
    lap = 0
    while True:
        for row in rows:
            community = communities[(communities.index(row["community"]) + lap) % len(communities)]
            building = row.get("building", "") if lap == 0 else ""
            yield {"text": row["complaint"], "community": community, "building": building}
        lap += 1


def submissions(communities: list[str], count: int, *, prefix: str, residents: int = RESIDENTS) -> list[Submission]:
    """`count` submissions from `residents` residents; keys and resident ids start with `prefix`."""
    bodies = complaint_bodies(communities)
    return [Submission(f"{prefix}-{n}", f"{prefix}-r{n % residents}", next(bodies)) for n in range(count)]
