"""The stacked classifier: a linear model per feature block, combined by a logistic regression, then calibrated."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from services.routing.learning.calibration import Floats, softmax
from services.routing.learning.compiled import LinearScores, TfidfRows
from services.routing.learning.evaluation import Prediction, predictions_from
from services.routing.learning.features import Encoder, FeatureConfig, embedding_features
from services.routing.learning.prior_shift import PriorShift
from services.routing.passages import reading_texts

CHAR, WORD, EMBEDDING, ENTRIES = "char", "word", "embedding", "entries"
# The text blocks speak together as "the classifier" when a decision is explained; signals speak for themselves.
TEXT_BLOCKS = (CHAR, WORD, EMBEDDING)
CLASSIFIER = "classifier"
# The entry model learnt from the responsibility catalog speaks for the catalog (signals.CATALOG).
EXPLAINED_AS = {ENTRIES: "catalog"}
# A scipy sparse matrix (TF-IDF) or a dense float32 array (embeddings); scipy has no type information.
BlockMatrix: TypeAlias = Any


@dataclass(frozen=True)
class EmbeddingSpec:
    """The embedding model a classifier was trained with; another model's vectors would be meaningless to it."""

    model_name: str
    dimension: int


@dataclass(frozen=True)
class ModelParameters:
    """Regularisation of the linear models (inverse strength: larger C fits the training data more closely)."""

    text_c: float = 0.5
    embedding_c: float = 10.0
    entry_c: float = 1.0
    meta_c: float = 1.0


@dataclass(frozen=True)
class EntryExample:
    """A text that names a responsibility catalog entry (its name or a typical phrasing) and the entry's label."""

    text: str
    entry: str
    label: str


class EntryModel:
    """A linear model over catalog entries, fitted on the entries' own names and phrasings (never on a case).

    Its column for a label is the best decision score among that label's entries: the catalog's opinion, learnt
    from sentence embeddings, so "对门天天半夜开派对" finds 邻居噪音扰民, where the keyword matcher, misled by "天天",
    "半夜" and "对门" in 群租's phrasings, finds 群租 first. Having seen no training case, its scores on training texts
    are as honest as out-of-fold ones.
    """

    def __init__(self, labels: Sequence[str], c: float, seed: int = 0) -> None:
        self.labels = tuple(labels)
        self.c = c
        self.seed = seed
        # Kept as plain arrays: one matrix product per Route, without scikit-learn's per-call input checks.
        self.entries: tuple[str, ...] = ()
        self.coef: Floats = np.zeros((0, 0))
        self.intercept: Floats = np.zeros(0)
        self.entries_of_label: list[npt.NDArray[np.intp]] = []

    def fit(self, vectors: BlockMatrix, examples: Sequence[EntryExample]) -> EntryModel:
        """Fits on the examples' vectors; every example's label must be one of `labels`."""
        entries = sorted({example.entry for example in examples})
        self.entries = tuple(entries)
        label_of = {example.entry: example.label for example in examples}
        model = LinearSVC(C=self.c, random_state=self.seed).fit(
            vectors, [entries.index(example.entry) for example in examples]
        )
        self.coef = np.asarray(model.coef_, dtype=np.float64)
        self.intercept = np.asarray(model.intercept_, dtype=np.float64)
        if len(entries) == 2:  # a binary SVM keeps one row, the second entry's score against the first's
            self.coef = np.vstack([-self.coef, self.coef]) / 2
            self.intercept = np.array([-self.intercept[0], self.intercept[0]]) / 2
        self.entries_of_label = [
            np.array([i for i, entry in enumerate(entries) if label_of[entry] == label], dtype=np.intp)
            for label in self.labels
        ]
        return self

    def __setstate__(self, state: dict[str, Any]) -> None:
        state.setdefault("entries", ())  # pickled before entry ids were kept: per-entry scores are unknown
        self.__dict__.update(state)

    def entry_scores(self, vectors: BlockMatrix) -> Floats:
        """(len(vectors), len(entries)): each entry's decision score, columns in `entries` order."""
        if not self.entries_of_label:
            raise ValueError("the entry model is not fitted")
        scores: Floats = np.asarray(vectors, dtype=np.float64) @ self.coef.T + self.intercept
        return scores

    def decision_function(self, vectors: BlockMatrix) -> Floats:
        """(len(vectors), len(labels)): per label, the best score of its entries (below every score if none)."""
        scores = self.entry_scores(vectors)
        floor = float(scores.min(initial=0.0)) - 1.0
        columns = [
            scores[:, ids].max(axis=1) if len(ids) else np.full(len(scores), floor) for ids in self.entries_of_label
        ]
        return np.column_stack(columns)


def base_model(block: str, parameters: ModelParameters, seed: int = 0) -> LinearSVC | LogisticRegression:
    """The linear model of one block: an SVM for sparse TF-IDF, a logistic regression for dense embeddings.

    liblinear's dual solver visits the examples in a random order, so the SVM gets the seed: without it two
    trainings on the same data differ in a few decisions.
    """
    if block == EMBEDDING:
        return LogisticRegression(C=parameters.embedding_c, max_iter=3000)
    return LinearSVC(C=parameters.text_c, random_state=seed)


def meta_model(parameters: ModelParameters) -> LogisticRegression:
    """The stacker: a multinomial logistic regression over the blocks' decision scores."""
    return LogisticRegression(C=parameters.meta_c, max_iter=5000)


def as_logits(scores: npt.NDArray[Any]) -> Floats:
    """Decision scores as one column per class: a binary model's single score s becomes [0, s]."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim == 1:
        return np.column_stack([np.zeros_like(scores), scores])
    return scores


def transform_blocks(
    texts: Sequence[str],
    *,
    features: FeatureConfig,
    vectorizers: Mapping[str, TfidfVectorizer | TfidfRows],
    encoder: Encoder | None,
) -> dict[str, BlockMatrix]:
    """Each feature block of `texts`, with already fitted vectorizers (or their compiled `TfidfRows`)."""
    blocks: dict[str, BlockMatrix] = {name: vectorizer.transform(texts) for name, vectorizer in vectorizers.items()}
    if features.embed:
        if encoder is None:
            raise ValueError("this configuration uses embeddings: an encoder is required")
        blocks[EMBEDDING] = embedding_features(texts, encoder, features)
        # The entry model reads the head vector: catalog phrasings are short, like the start of a complaint.
        blocks[ENTRIES] = blocks[EMBEDDING][:, : encoder.dimension]
    return blocks


@dataclass(frozen=True)
class _ScoringParts:
    """What turns texts into the stacker's probabilities: scikit-learn's fitted objects or their compiled twins."""

    vectorizers: Mapping[str, TfidfVectorizer | TfidfRows]
    models: Mapping[str, LinearSVC | LogisticRegression | EntryModel | LinearScores]
    meta: LogisticRegression | LinearScores


@dataclass(frozen=True)
class SignalAttribution:
    """Which evidence decided one text, read off the stacker's linear terms.

    Attributes:
        deciding: "classifier" (the text blocks together) or a signal name: the group whose terms separate the
            chosen label from the runner-up most.
        opinions: per group, the label its terms alone favour and that label's softmax share of them.
    """

    deciding: str
    opinions: dict[str, tuple[str, float]]


class StackedClassifier:
    """Fitted parts of a model: vectorizers, one linear model per block, the stacker and its temperature.

    `signals` name per-label evidence computed outside the text (e.g. the responsibility catalog and the vote of
    similar resolved cases, see services/routing/signals.py): their columns enter the stacker beside the blocks'
    decision scores, so the stacker learns on held-out folds how far to trust each.
    """

    # Scores with compiled copies of the fitted parts (compiled.py); False uses scikit-learn's objects themselves,
    # the reference the compiled parts are tested and benchmarked against. Same numbers either way.
    compiled = True

    def __init__(
        self,
        *,
        labels: tuple[str, ...],
        features: FeatureConfig,
        embedding: EmbeddingSpec | None,
        vectorizers: dict[str, TfidfVectorizer],
        base_models: dict[str, LinearSVC | LogisticRegression | EntryModel],
        meta: LogisticRegression,
        temperature: float,
        signals: tuple[str, ...] = (),
    ) -> None:
        self.labels = labels
        self.features = features
        self.embedding = embedding
        self.vectorizers = vectorizers
        self.base_models = base_models
        self.meta = meta
        self.temperature = temperature
        self.signals = signals

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        for derived in ("compiled", "_compiled_parts"):  # rebuilt from the fitted objects, never saved
            state.pop(derived, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state.setdefault("signals", ())  # models pickled before signals existed used none
        self.__dict__.update(state)

    def _parts(self) -> _ScoringParts:
        """The vectorizers, block models and stacker that score: compiled (built on first use) unless `compiled`."""
        if not self.compiled:
            return _ScoringParts(self.vectorizers, self.base_models, self.meta)
        parts: _ScoringParts | None = self.__dict__.get("_compiled_parts")
        if parts is None:  # two threads may both build it: the same parts, the last one kept
            parts = _ScoringParts(
                {name: TfidfRows(vectorizer) for name, vectorizer in self.vectorizers.items()},
                {
                    name: model if isinstance(model, EntryModel) else LinearScores(model)
                    for name, model in self.base_models.items()
                },
                LinearScores(self.meta),
            )
            self._compiled_parts = parts
        return parts

    def entry_scores(self, text: str, encoder: Encoder | None) -> dict[str, float]:
        """{catalog entry id: the entry model's score} for `text` (services/routing/entry_choice.py reads it);
        empty for a model without an entry model, or one saved before the entry model kept its entry ids."""
        model = self.base_models.get(ENTRIES)
        if not isinstance(model, EntryModel) or not model.entries or encoder is None:
            return {}
        head = encoder([text[: self.features.head_chars]])
        return dict(zip(model.entries, model.entry_scores(head)[0].tolist(), strict=True))

    def meta_inputs(
        self, texts: Sequence[str], encoder: Encoder | None, signals: Mapping[str, Floats] | None = None
    ) -> tuple[Floats, dict[str, slice]]:
        """The stacker's input rows and which columns belong to which block or signal."""
        parts = self._parts()
        blocks = transform_blocks(texts, features=self.features, vectorizers=parts.vectorizers, encoder=encoder)
        names = [name for name in blocks if name in parts.models]  # a model without an entry model skips it
        columns: list[Floats] = [as_logits(parts.models[name].decision_function(blocks[name])) for name in names]
        given = signals or {}
        missing = [name for name in self.signals if name not in given]
        if missing:
            raise ValueError(f"this model combines the signal(s) {', '.join(missing)}: give them")
        for name in self.signals:
            matrix = np.asarray(given[name], dtype=np.float64)
            if matrix.shape != (len(texts), len(self.labels)):
                raise ValueError(f"signal {name} has shape {matrix.shape}, expected ({len(texts)}, {len(self.labels)})")
            columns.append(matrix)
            names.append(name)
        spans, start = {}, 0
        for name, column in zip(names, columns, strict=True):
            spans[name] = slice(start, start + column.shape[1])
            start += column.shape[1]
        return np.hstack(columns), spans

    def probabilities(
        self, texts: Sequence[str], encoder: Encoder | None, signals: Mapping[str, Floats] | None = None
    ) -> Floats:
        """Calibrated probabilities, shape (len(texts), len(labels)), columns in `labels` order."""
        if not texts:
            return np.zeros((0, len(self.labels)))
        inputs, _ = self.meta_inputs(texts, encoder, signals)
        return softmax(as_logits(self._parts().meta.decision_function(inputs)), self.temperature)

    def explain(
        self, texts: Sequence[str], encoder: Encoder | None, signals: Mapping[str, Floats] | None = None
    ) -> tuple[Floats, list[SignalAttribution]]:
        """Probabilities as `probabilities`, and for each text which group of evidence decided it."""
        inputs, spans = self.meta_inputs(texts, encoder, signals)
        probabilities = softmax(as_logits(self._parts().meta.decision_function(inputs)), self.temperature)
        coefficients = np.asarray(self.meta.coef_, dtype=np.float64)
        if coefficients.shape[0] == 1:  # binary: the one score is class 1's logit against class 0's zero
            coefficients = np.vstack([np.zeros_like(coefficients), coefficients])
        groups: dict[str, list[slice]] = {}
        for name, span in spans.items():
            groups.setdefault(CLASSIFIER if name in TEXT_BLOCKS else EXPLAINED_AS.get(name, name), []).append(span)
        attributions = []
        for row, x in zip(probabilities, inputs, strict=True):
            order = np.argsort(-row)
            best, runner_up = int(order[0]), int(order[1])
            margins, opinions = {}, {}
            for group, group_spans in groups.items():
                terms = sum(coefficients[:, span] @ x[span] for span in group_spans)
                margins[group] = float(terms[best] - terms[runner_up])
                share = softmax(terms[np.newaxis, :], self.temperature)[0]
                favourite = int(share.argmax())
                opinions[group] = (self.labels[favourite], float(share[favourite]))
            attributions.append(SignalAttribution(max(margins, key=lambda g: margins[g]), opinions))
        return probabilities, attributions


class RoutingClassifier:
    """A trained classifier as a `Predictor`: abstains when the top probability is below the threshold."""

    def __init__(
        self,
        classifier: StackedClassifier,
        *,
        threshold: float,
        encoder: Encoder | None,
        prior_shift: PriorShift | None = None,
    ) -> None:
        if classifier.embedding is not None and encoder is None:
            raise ValueError(f"this model needs an encoder for {classifier.embedding.model_name}")
        if prior_shift is not None and prior_shift.labels != classifier.labels:
            raise ValueError(f"the prior shift is over {prior_shift.labels}, the model over {classifier.labels}")
        self.classifier = classifier
        self.threshold = threshold
        self.prior_shift = prior_shift
        self._encoder = encoder

    @property
    def labels(self) -> tuple[str, ...]:
        """Every label the classifier can predict."""
        return self.classifier.labels

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        """One prediction per text; the top label is kept when abstaining, for evaluation and for a person."""
        return predictions_from(self.shifted(self.probabilities(texts)), self.labels, self.threshold)

    def probabilities(self, texts: Sequence[str]) -> Floats:
        """Calibrated probabilities under the training priors, long texts read by their request passages."""
        texts = reading_texts(list(texts))
        return self.classifier.probabilities(texts, self._encoder, self.signals(texts))

    def shifted(self, probabilities: Floats) -> Floats:
        """`probabilities` moved to the deployment's estimated priors, when the model has them."""
        return probabilities if self.prior_shift is None else self.prior_shift.adjust(probabilities)

    def signals(self, texts: Sequence[str]) -> dict[str, Floats]:
        """The signal columns (catalog, vote) the model is given for `texts`: none here; the offline router's."""
        return {}
