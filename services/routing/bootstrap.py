"""Brings a router up: learns the embedding model from retrieval, loads the catalog and the model (training one
from the packaged corpus when the model folder is empty), and keeps the model folder watched for new versions."""

from __future__ import annotations

import logging
import threading

import grpc
import numpy as np

from linli.catalog import Catalog, load_catalog
from linli.embedding import Vectors
from linli.errors import FailedPrecondition, Unavailable, from_rpc_error
from linli.settings import RoutingSettings
from linli.v1 import retrieval_pb2, retrieval_pb2_grpc
from services.routing.learning.model_dir import MANIFEST_FILE, save_model
from services.routing.model_holder import ModelHolder
from services.routing.router import RetrievalEncoder, Router

logger = logging.getLogger(__name__)

# Texts per Embed call while training at start: retrieval's default batch limit.
TRAINING_EMBED_BATCH = 64
# Deadline of one such call: 64 texts on two busy cores take seconds, far beyond a single Route's budget.
TRAINING_EMBED_TIMEOUT_SECONDS = 300.0


class BatchedEncoder:
    """Splits large embedding jobs into calls retrieval accepts."""

    def __init__(self, inner: RetrievalEncoder, batch: int) -> None:
        self._inner = inner
        self._batch = batch

    @property
    def model_name(self) -> str:
        return self._inner.model_name

    @property
    def dimension(self) -> int:
        return self._inner.dimension

    def __call__(self, texts: list[str]) -> Vectors:
        chunks = [
            self._inner.fresh(timeout=TRAINING_EMBED_TIMEOUT_SECONDS)(texts[i : i + self._batch])
            for i in range(0, len(texts), self._batch)
        ]
        return np.concatenate(chunks) if chunks else self._inner([])


class RouterBootstrap:
    """Owns the router once it can be built; until then `router` raises UNAVAILABLE."""

    def __init__(self, retrieval: retrieval_pb2_grpc.RetrievalServiceStub, settings: RoutingSettings) -> None:
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

    def _encoder(self) -> RetrievalEncoder:
        try:
            stats = self._retrieval.GetIndexStats(
                retrieval_pb2.GetIndexStatsRequest(), timeout=self._settings.rpc_timeout_seconds
            )
        except grpc.RpcError as error:
            raise from_rpc_error(error, service="retrieval") from error
        return RetrievalEncoder(
            self._retrieval,
            model_name=stats.model,
            dimension=stats.dimension,
            timeout=self._settings.rpc_timeout_seconds,
        )

    def _train_first_model(self, encoder: RetrievalEncoder, catalog: Catalog) -> None:
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
            encoder=BatchedEncoder(encoder, TRAINING_EMBED_BATCH),
            signals=RoutingTrainingSignals(catalog, vote),
            entry_examples=catalog_examples(catalog),
            progress=lambda line: logger.info(line),
        )
        save_model(model, self._settings.model_dir)


def _log_bad_model(error: Exception) -> None:
    logger.error("a new routing model was refused; the running one stays", extra={"error": str(error)})
