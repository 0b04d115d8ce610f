"""Per-label evidence from outside the text classifier: the responsibility catalog and the precedent vote.

Both become extra columns of the stacker's input (see learning/classifier.py), so the stacker learns from held-out
folds how much each signal deserves, and the combined probabilities stay calibrated. At training time the vote is
taken over the other training cases (leave-one-out); at serving time over the live case index, which also holds
every case resolved since, so the router learns from each answer before it is retrained.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from linli.catalog import Catalog, CatalogEntry
from services.routing.learning.classifier import EntryExample
from services.routing.vote import vote_weights

Floats = npt.NDArray[np.float64]

CATALOG, VOTE = "catalog", "vote"
# Entries whose score counts towards a label: a text may touch a few topics ("楼道灯坏了,物业也不管").
CATALOG_MATCHES = 5


@dataclass(frozen=True)
class VoteParameters:
    """How precedents vote: see vote.vote_weights."""

    neighbours: int = 10
    min_similarity: float = 0.55
    temperature: float = 0.05


def catalog_scores(catalog: Catalog, texts: Sequence[str], labels: Sequence[str]) -> Floats:
    """(len(texts), len(labels)): for each label, the best match score among catalog entries of that party."""
    rows = [match_scores(catalog.match(text, limit=CATALOG_MATCHES), labels) for text in texts]
    return np.array(rows, dtype=np.float64).reshape(len(texts), len(labels))


def match_scores(matches: Sequence[tuple[CatalogEntry, float]], labels: Sequence[str]) -> Floats:
    """One text's catalog column: per label, the best score among the first CATALOG_MATCHES of its ranked
    `matches` (Catalog.match) that belong to that label's party."""
    column = {label: i for i, label in enumerate(labels)}
    scores = np.zeros(len(labels))
    for entry, score in matches[:CATALOG_MATCHES]:
        col = column.get(entry.party)
        if col is not None:
            scores[col] = max(scores[col], score)
    return scores


def vote_scores(
    neighbours: Sequence[Sequence[tuple[float, str]]], labels: Sequence[str], parameters: VoteParameters
) -> Floats:
    """(len(neighbours), len(labels)) log vote shares from each text's (similarity, label) precedents.

    Logs, not shares: the stacker is a logistic regression, so log-probabilities enter it as additive evidence.
    """
    column = {label: i for i, label in enumerate(labels)}
    scores = np.zeros((len(neighbours), len(labels)))
    for row, precedents in enumerate(neighbours):
        weights = vote_weights(
            precedents, parties=labels, min_similarity=parameters.min_similarity, temperature=parameters.temperature
        )
        total = sum(weights.values())
        for label, weight in weights.items():
            col = column.get(label)
            if col is not None:
                scores[row, col] = np.log(weight / total)
    return scores


def leave_one_out_neighbours(
    vectors: npt.NDArray[np.float32], labels: Sequence[str], k: int, *, block: int = 1024
) -> list[list[tuple[float, str]]]:
    """Each row's `k` most similar other rows as (cosine, label): the vote a training case would have seen."""
    normalised = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    result: list[list[tuple[float, str]]] = []
    k = min(k, len(labels) - 1)
    for start in range(0, len(normalised), block):
        similarity = normalised[start : start + block] @ normalised.T
        for offset in range(similarity.shape[0]):
            similarity[offset, start + offset] = -np.inf  # never one's own precedent
        top = np.argpartition(-similarity, k, axis=1)[:, :k] if k > 0 else np.zeros((similarity.shape[0], 0), int)
        for offset, columns in enumerate(top):
            ranked = sorted(columns, key=lambda c: -similarity[offset, c])
            result.append([(float(similarity[offset, c]), labels[c]) for c in ranked])
    return result


class RoutingTrainingSignals:
    """The signals of the deployed router, computed for training items (see learning.training.TrainingSignals).

    The vote is leave-one-out over the other training items, as the live index would answer; the catalog joins
    only when the model's labels are parties of the catalog (a city's departments are not).
    """

    def __init__(self, catalog: Catalog | None, vote: VoteParameters | None = None) -> None:
        self._catalog = catalog
        self._vote = vote or VoteParameters()

    def __call__(
        self, texts: Sequence[str], truth: Sequence[str], vectors: Floats | None, labels: Sequence[str]
    ) -> dict[str, Floats]:
        signals: dict[str, Floats] = {}
        if vectors is not None:
            neighbours = leave_one_out_neighbours(vectors.astype(np.float32), list(truth), self._vote.neighbours)
            signals[VOTE] = vote_scores(neighbours, labels, self._vote)
        catalog = self._catalog
        if catalog is not None and catalog_applies(catalog, labels):
            signals[CATALOG] = catalog_scores(catalog, texts, labels)
        return signals


def catalog_examples(catalog: Catalog | None) -> list[EntryExample]:
    """Each catalog entry's name and typical phrasings, labelled with the entry and its responsible party: what
    the entry model (learning.classifier.EntryModel) learns the catalog from. Empty without a catalog."""
    if catalog is None:
        return []
    return [
        EntryExample(text, entry.id, entry.party)
        for entry in catalog.entries
        for text in dict.fromkeys((entry.name, *entry.phrasings))
    ]


def catalog_applies(catalog: Catalog | None, labels: Sequence[str]) -> bool:
    """Whether the catalog speaks about these labels: every label is one of its parties."""
    return catalog is not None and set(labels) <= set(catalog.parties)


def nearest_neighbours(
    queries: npt.NDArray[np.float32], vectors: npt.NDArray[np.float32], labels: Sequence[str], k: int
) -> list[list[tuple[float, str]]]:
    """Each query's `k` most similar rows of `vectors` as (cosine, label), best first (exact, for offline use)."""
    similarity = queries @ vectors.T
    k = min(k, len(labels))
    top = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
    return [
        [(float(similarity[row, c]), labels[c]) for c in sorted(columns, key=lambda c: -similarity[row, c])]
        for row, columns in enumerate(top)
    ]
