"""The router's decision without servers: for `linli eval routing` and benchmarks.

It computes exactly what the Route RPC feeds the model (text blocks, catalog scores, the vote of the closest
precedents) but finds precedents by exact search over an in-memory set of resolved cases instead of the retrieval
service, so an evaluation needs no running stack and measures the model, not the network.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from linli.catalog import Catalog
from linli.embedding import Vectors
from linli.embedding.text_encoder import TextEncoder
from services.routing.learning.classifier import RoutingClassifier, StackedClassifier
from services.routing.learning.data import LabelledText
from services.routing.learning.features import Encoder, FeatureConfig
from services.routing.learning.prior_shift import PriorShift
from services.routing.learning.training import TrainedModel, TrainingConfig, train
from services.routing.passages import reading_texts
from services.routing.signals import (
    CATALOG,
    VOTE,
    RoutingTrainingSignals,
    VoteParameters,
    catalog_applies,
    catalog_examples,
    catalog_scores,
    nearest_neighbours,
    vote_scores,
)


def memoised(encoder: Encoder) -> TextEncoder:
    """`encoder`, remembering each text's vector."""
    return TextEncoder(encoder, model_name=encoder.model_name, dimension=encoder.dimension, memo=True)


class OfflineRouter(RoutingClassifier):
    """A `Predictor` that routes like the Route RPC over a fixed set of precedents."""

    def __init__(
        self,
        classifier: StackedClassifier,
        *,
        threshold: float,
        encoder: Encoder | None,
        catalog: Catalog | None,
        precedent_texts: Sequence[str],
        precedent_labels: Sequence[str],
        vote: VoteParameters | None = None,
        prior_shift: PriorShift | None = None,
    ) -> None:
        if VOTE in classifier.signals and encoder is None:
            raise ValueError("this model votes over precedents: it needs an encoder")
        if CATALOG in classifier.signals and (catalog is None or not catalog_applies(catalog, classifier.labels)):
            raise ValueError("this model uses the responsibility catalog: give the catalog of its parties")
        # A memo: the classifier's head vectors double as the precedent query.
        super().__init__(
            classifier,
            threshold=threshold,
            encoder=memoised(encoder) if encoder is not None else None,
            prior_shift=prior_shift,
        )
        self._catalog = catalog
        self._vote = vote or VoteParameters()
        self._precedent_labels = list(precedent_labels)
        self._precedents: Vectors | None = None
        if VOTE in classifier.signals and self._encoder is not None:
            self._precedents = self._encoder([self._head(text) for text in reading_texts(precedent_texts)])

    def _head(self, text: str) -> str:
        return text[: self.classifier.features.head_chars]

    def signals(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """The catalog and vote columns the model expects for `texts`."""
        signals: dict[str, np.ndarray] = {}
        if VOTE in self.classifier.signals and self._encoder is not None and self._precedents is not None:
            queries = self._encoder([self._head(text) for text in texts])
            neighbours = nearest_neighbours(queries, self._precedents, self._precedent_labels, self._vote.neighbours)
            signals[VOTE] = vote_scores(neighbours, self.labels, self._vote)
        if CATALOG in self.classifier.signals and self._catalog is not None:
            signals[CATALOG] = catalog_scores(self._catalog, texts, self.labels)
        return signals


def train_offline_router(
    items: Sequence[LabelledText],
    *,
    encoder: Encoder | None,
    catalog: Catalog | None,
    progress: Callable[[str], None] | None = None,
) -> tuple[OfflineRouter, TrainedModel]:
    """Trains the default configuration on `items` with every signal (as `linli eval routing --train` does) and
    returns it as a router that votes over the same items; for benchmarks that need the predictions themselves."""
    model = train(
        items,
        config=TrainingConfig(features=FeatureConfig(embed=encoder is not None)),
        encoder=encoder,
        progress=progress,
        signals=RoutingTrainingSignals(catalog),
        entry_examples=catalog_examples(catalog),
    )
    router = OfflineRouter(
        model.classifier,
        threshold=model.threshold,
        encoder=encoder,
        catalog=catalog,
        precedent_texts=[item.text for item in items],
        precedent_labels=[item.label for item in items],
    )
    return router, model
