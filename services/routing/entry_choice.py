"""Which responsibility catalog entry a decision rests on, among the chosen party's entries.

The entry sets the SLA, the starting escalation level, the co-parties and the ticket's category (hot topics group
by it), so it matters beyond the rationale. Two readers of the text vote: the catalog's keyword matcher (exact
fragments, misled by shared words: "对门天天半夜开派对" scores 群租 first) and the entry model learnt from the
catalog's phrasings over the sentence vector (services.routing.learning.classifier.EntryModel, which reads meaning
but blurs neighbouring entries). Measured with the true party on the packaged corpus, where neither has seen a case
(`python -m bench.routing_entries`), the sum picks the right entry more often than either alone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from linli.catalog import Catalog, CatalogEntry

# How much a keyword match score (in [0, 1]) counts against the entry model's SVM score: chosen on the training
# split (0.5: 79.5 % of entries right; the entry model alone 77.3 %, the keywords alone 71.1 %).
KEYWORD_WEIGHT = 0.5
# A keyword match this strong is shown even if the entry model disagrees (the matcher's vague-text floor is ~0.15).
MIN_KEYWORD_SCORE = 0.35
# Below this entry-model score, without a keyword match, the right entry was picked for a quarter of training texts.
MIN_MODEL_SCORE = -0.75
# Softmax temperature over the party's entries' evidence: the chosen entry's share is the reported score (on the
# training split a share of 0.4-0.6 was right for 85 % of texts, 0.6-0.8 for 95 %, above 0.8 for 99.5 %).
SHARE_TEMPERATURE = 0.25


@dataclass(frozen=True)
class EntryChoice:
    """The entry a decision rests on and how clearly the text points to it among its party's entries, in [0, 1]."""

    entry: CatalogEntry
    score: float


def choose_entry(
    text: str,
    party: str,
    catalog: Catalog | None,
    model_scores: Mapping[str, float] | None = None,
    *,
    matches: Sequence[tuple[CatalogEntry, float]] | None = None,
) -> EntryChoice | None:
    """The best entry of `party` for `text`, or None when neither reader finds enough evidence.

    Args:
        text: the complaint.
        party: the party chosen for it; an entry of another party would contradict the decision.
        catalog: the responsibility catalog, or None (a taxonomy without one: no entry).
        model_scores: {entry id: the entry model's score} for the text, or None to use the keywords alone.
        matches: `catalog.match(text)` over every entry, when the caller has it already (Route scores the catalog
            signal from the same ranking): the text is not matched twice.
    """
    if catalog is None:
        return None
    if matches is None:
        matches = catalog.match(text, limit=len(catalog.entries))
    keyword = {entry.id: score for entry, score in matches}
    scores = model_scores or {}
    candidates = [entry for entry in catalog.entries if entry.party == party]
    if not scores:
        best = max(candidates, key=lambda entry: keyword.get(entry.id, 0.0), default=None)
        if best is None or keyword.get(best.id, 0.0) < MIN_KEYWORD_SCORE:
            return None
        return EntryChoice(best, keyword[best.id])
    evidence = {
        entry.id: scores.get(entry.id, -math.inf) + KEYWORD_WEIGHT * keyword.get(entry.id, 0.0) for entry in candidates
    }
    best = max(candidates, key=lambda entry: evidence[entry.id], default=None)
    if best is None:
        return None
    if keyword.get(best.id, 0.0) < MIN_KEYWORD_SCORE and scores.get(best.id, -math.inf) < MIN_MODEL_SCORE:
        return None
    top = evidence[best.id]
    total = sum(math.exp((value - top) / SHARE_TEMPERATURE) for value in evidence.values() if value > -math.inf)
    return EntryChoice(best, 1.0 / total)
