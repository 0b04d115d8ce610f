"""Brings a router up: learns the embedding model from retrieval, loads the catalog and the model (training one
from the packaged corpus when the model folder is empty), and keeps the model folder watched for new versions."""

from __future__ import annotations

import logging
import threading

from linli.catalog import Catalog, load_catalog
from linli.clients.retrieval import RetrievalClient
from linli.embedding.text_encoder import TextEncoder
from linli.errors import FailedPrecondition, Unavailable
from services.routing.learning.model_dir import MANIFEST_FILE, save_model
from services.routing.model_holder import ModelHolder
from services.routing.router import Router
from services.routing.settings import RoutingSettings

logger = logging.getLogger(__name__)

# Texts per Embed call while training at start: retrieval's default batch limit.
TRAINING_EMBED_BATCH = 64
# Deadline of one such call: 64 texts on two busy cores take seconds, far beyond a single Route's budget.
TRAINING_EMBED_TIMEOUT_SECONDS = 300.0


def retrieval_encoder(retrieval: RetrievalClient, *, model_name: str, dimension: int) -> TextEncoder:
    """Retrieval's model, memoised per text: the router takes a fresh memo for each request."""
    return TextEncoder(
        lambda texts: retrieval.embed(texts).vectors, model_name=model_name, dimension=dimension, memo=True
    )


class RouterBootstrap:
    """Owns the router once it can be built; until then `router` raises UNAVAILABLE."""

    def __init__(self, retrieval: RetrievalClient, settings: RoutingSettings) -> None:
        self._retrieval = retrieval
        self._settings = settings
        self._router: Router | None = None
        self._stop = threading.Event()

    @property
    def router(self) -> Router:
        """The router in service; UNAVAILABLE before start() finished."""
        if self._router is None:
            raise Unavailable("the router is still loading its model")
        return self._router

    def start(self) -> None:
        """Builds the router; raises when no model can be loaded or trained."""
        encoder = self._encoder()
        catalog = load_catalog(self._settings.catalog_path)
        models = ModelHolder(self._settings.model_dir, encoder=encoder)
        if not (self._settings.model_dir / MANIFEST_FILE).is_file():
            self._train_first_model(encoder, catalog)
        models.reload()
        self._router = Router(
            retrieval=self._retrieval, encoder=encoder, models=models, catalog=catalog, settings=self._settings
        )
        if self._settings.model_poll_seconds > 0:
            threading.Thread(
                target=models.watch,
                args=(self._settings.model_poll_seconds, self._stop, _log_bad_model),
                name="routing-model-watch",
                daemon=True,
            ).start()

    def stop(self) -> None:
        """Ends the model watcher."""
        self._stop.set()

    def _encoder(self) -> TextEncoder:
        stats = self._retrieval.index_stats()
        return retrieval_encoder(self._retrieval, model_name=stats.model, dimension=stats.dimension)

    def _training_encoder(self, encoder: TextEncoder) -> TextEncoder:
        """Retrieval's model in batches it accepts, each with the long deadline of training."""
        return TextEncoder(
            lambda texts: self._retrieval.embed(texts, timeout_seconds=TRAINING_EMBED_TIMEOUT_SECONDS).vectors,
            model_name=encoder.model_name,
            dimension=encoder.dimension,
            batch=TRAINING_EMBED_BATCH,
        )

    def _train_first_model(self, encoder: TextEncoder, catalog: Catalog) -> None:
        corpus = self._settings.train_corpus
        if corpus is None:
            raise FailedPrecondition(
                f"no routing model in {self._settings.model_dir}: train one with `linli train routing --out`"
            )
        from services.routing.learning.data import read_labelled
        from services.routing.learning.training import train
        from services.routing.signals import RoutingTrainingSignals, VoteParameters, catalog_examples

        items = read_labelled(corpus)
        logger.info("no routing model yet: training one", extra={"corpus": str(corpus), "count": len(items)})
        vote = VoteParameters(self._settings.neighbours, self._settings.min_similarity, self._settings.vote_temperature)
        model = train(
            items,
            encoder=self._training_encoder(encoder),
            signals=RoutingTrainingSignals(catalog, vote),
            entry_examples=catalog_examples(catalog),
            progress=lambda line: logger.info(line),
        )
        save_model(model, self._settings.model_dir)


def _log_bad_model(error: Exception) -> None:
    logger.error("a new routing model was refused; the running one stays", extra={"error": str(error)})
