"""Training: fit the stacked classifier on labelled texts, calibrate it and choose its abstention threshold.

Everything that decides the model's probabilities (the stacker, the temperature, the threshold) is fitted on
predictions for items that the predicting model never saw: base models are scored out-of-fold, and the stacker's
own scores are out-of-fold too, so the calibration and the threshold reflect how the model does on new texts.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from linli.errors import InvalidArgument
from services.routing.learning.calibration import Floats, fit_temperature, precision_threshold, softmax
from services.routing.learning.classifier import (
    CHAR,
    EMBEDDING,
    ENTRIES,
    WORD,
    EmbeddingSpec,
    EntryExample,
    EntryModel,
    ModelParameters,
    StackedClassifier,
    as_logits,
    base_model,
    meta_model,
    transform_blocks,
)
from services.routing.learning.data import LabelledText, checksum
from services.routing.learning.evaluation import score
from services.routing.learning.features import Encoder, FeatureConfig, char_vectorizer, word_vectorizer
from services.routing.learning.prior_shift import PriorShift
from services.routing.passages import reading_texts

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]


class TrainingSignals(Protocol):
    """Per-label evidence from outside the text for every training item, as the item would have seen it served.

    Args:
        texts: the training texts.
        truth: their labels (a vote over precedents uses the other items' labels, never the item's own).
        vectors: the texts' sentence embeddings when the model uses them, else None.
        labels: the model's label order: each returned matrix has one column per label, in this order.

    Returns:
        {signal name: (len(texts), len(labels)) matrix}.
    """

    def __call__(
        self, texts: Sequence[str], truth: Sequence[str], vectors: Floats | None, labels: Sequence[str]
    ) -> dict[str, Floats]: ...


MIN_PER_LABEL = 2  # fewer and a label cannot be both trained on and held out


@dataclass(frozen=True)
class TrainingConfig:
    """How to train: features, regularisation, folds and the precision the abstention threshold must reach.

    Attributes:
        features: the feature blocks (see FeatureConfig).
        parameters: the linear models' regularisation.
        folds: cross-validation folds (fewer when the rarest label has fewer examples).
        target_precision: accuracy required on the items the router does not abstain on.
        seed: the seed of the fold shuffle and of the SVMs' solver: the same data gives the same model.
    """

    features: FeatureConfig = field(default_factory=FeatureConfig)
    parameters: ModelParameters = field(default_factory=ModelParameters)
    folds: int = 5
    target_precision: float = 0.95
    seed: int = 0


@dataclass(frozen=True)
class DataSummary:
    """Which data a model was trained on."""

    sha256: str
    count: int
    label_counts: dict[str, int]
    corrections: int = 0


@dataclass(frozen=True)
class TrainedModel:
    """A fitted classifier with its threshold and cross-validated metrics (see evaluation.score for keys)."""

    classifier: StackedClassifier
    threshold: float
    target_precision: float
    metrics: dict[str, Any]
    data: DataSummary
    train_seconds: float
    prior_shift: PriorShift | None = None


def _check_labels(items: Sequence[LabelledText], allowed_labels: Collection[str] | None) -> Counter[str]:
    counts = Counter(item.label for item in items)
    if allowed_labels is not None:
        unknown = sorted(set(counts) - set(allowed_labels))
        if unknown:
            raise InvalidArgument.for_field(
                "label", f"unknown label(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed_labels))}"
            )
    if len(counts) < 2:
        raise InvalidArgument.for_field("label", f"at least 2 labels are needed to learn a choice, got {len(counts)}")
    rare = sorted(label for label, n in counts.items() if n < MIN_PER_LABEL)
    if rare:
        raise InvalidArgument.for_field("label", f"fewer than {MIN_PER_LABEL} examples of: {', '.join(rare)}")
    return counts


def _tuning_rows(tune_on: Sequence[bool] | None, count: int) -> npt.NDArray[np.intp]:
    """Indices of the items calibration is fitted on; all of them by default."""
    if tune_on is None:
        return np.arange(count, dtype=np.intp)
    if len(tune_on) != count or not any(tune_on):
        raise ValueError("tune_on must mark at least one of the items, one flag per item")
    return np.flatnonzero(np.asarray(tune_on, dtype=bool)).astype(np.intp)


def _entry_model(
    examples: Sequence[EntryExample],
    labels: Sequence[str],
    config: TrainingConfig,
    encoder: Encoder | None,
    say: Progress,
) -> EntryModel | None:
    """The entry model of `examples`, or None without embeddings or when an example's label is not the model's."""
    if not examples or not config.features.embed or encoder is None:
        return None
    if not {example.label for example in examples} <= set(labels) or len({e.entry for e in examples}) < 2:
        say("catalog entries: their labels are not this model's, left out")
        return None
    vectors = encoder([example.text[: config.features.head_chars] for example in examples])
    say(f"catalog entries: {len({e.entry for e in examples})} entries learnt from {len(examples)} phrasings")
    return EntryModel(labels, config.parameters.entry_c, config.seed).fit(vectors, examples)


def train(
    items: Sequence[LabelledText],
    *,
    config: TrainingConfig | None = None,
    encoder: Encoder | None = None,
    allowed_labels: Collection[str] | None = None,
    corrections: int = 0,
    progress: Progress | None = None,
    signals: TrainingSignals | None = None,
    entry_examples: Sequence[EntryExample] = (),
    tune_on: Sequence[bool] | None = None,
) -> TrainedModel:
    """Trains a classifier on `items`; any label set with at least 2 labels of 2 examples each.

    Args:
        items: texts and their true labels (corrections already merged in, see data.with_corrections).
        config: features, regularisation, folds, target precision; defaults to TrainingConfig().
        encoder: sentence embeddings; required when config.features.embed is true.
        allowed_labels: when given, a label outside it is an error (a fixed taxonomy, e.g. the default parties).
        corrections: how many of `items` come from routing corrections, recorded in the manifest.
        progress: called with a short line at each step (the CLI prints them to stderr).
        signals: evidence from outside the text (catalog, precedent vote) that the stacker combines with the blocks.
        entry_examples: names and phrasings of responsibility catalog entries (signals.catalog_examples); with
            embeddings, and when their labels are all the model's, an entry model learnt from them joins the
            blocks (EntryModel). Otherwise (another taxonomy) they are left out.
        tune_on: which items the temperature, the abstention threshold and the cross-validated metrics are fitted
            on (default all): the deployment's own texts when a borrowed history joins the training data, so that
            thousands of easier messages of another kind do not lower the threshold for the traffic it serves.

    Raises:
        InvalidArgument: too few labels or examples, or a label outside `allowed_labels`.
        ValueError: embeddings configured without an encoder.
    """
    config = config or TrainingConfig()
    say = progress or (lambda line: logger.info(line))
    if config.features.embed and encoder is None:
        raise ValueError("the feature configuration uses embeddings but no encoder was given")
    started = time.perf_counter()
    counts = _check_labels(items, allowed_labels)
    labels = tuple(sorted(counts))
    texts = reading_texts([item.text for item in items])
    truth = np.array([labels.index(item.label) for item in items], dtype=np.intp)
    folds = StratifiedKFold(n_splits=min(config.folds, min(counts.values())), shuffle=True, random_state=config.seed)

    vectorizers = _fit_vectorizers(texts, config, say)
    if config.features.embed:
        say(f"embedding {len(texts)} texts with {encoder.model_name if encoder else '?'}")
    blocks = transform_blocks(texts, features=config.features, vectorizers=vectorizers, encoder=encoder)
    entry_model = _entry_model(entry_examples, labels, config, encoder, say)
    if entry_model is None:
        blocks.pop(ENTRIES, None)
    base_models, held_out_scores = _fit_blocks(blocks, truth, folds, entry_model, config, say)
    signal_names = _add_signal_scores(signals, items, labels, blocks, encoder, held_out_scores, say)
    tuned = _tuning_rows(tune_on, len(items))
    stack = _fit_stack(np.hstack(held_out_scores), truth, labels, folds, config, say, tuned)
    classifier = StackedClassifier(
        labels=labels,
        features=config.features,
        embedding=EmbeddingSpec(encoder.model_name, encoder.dimension) if config.features.embed and encoder else None,
        vectorizers=vectorizers,
        base_models=base_models,
        meta=stack.meta,
        temperature=stack.temperature,
        signals=signal_names,
    )
    summary = DataSummary(checksum(items), len(items), dict(sorted(counts.items())), corrections)
    return TrainedModel(
        classifier, stack.threshold, config.target_precision, stack.metrics, summary, time.perf_counter() - started
    )


def _add_signal_scores(
    signals: TrainingSignals | None,
    items: Sequence[LabelledText],
    labels: tuple[str, ...],
    blocks: dict[str, Any],
    encoder: Encoder | None,
    held_out_scores: list[npt.NDArray[np.float64]],
    say: Progress,
) -> tuple[str, ...]:
    """Appends the evidence from outside the text (catalog, precedent vote) to the stacker's inputs; their names."""
    if signals is None:
        return ()
    vectors = blocks[EMBEDDING][:, : encoder.dimension] if EMBEDDING in blocks and encoder else None
    extra = signals([item.text for item in items], [item.label for item in items], vectors, labels)
    names = tuple(sorted(extra))
    held_out_scores.extend(np.asarray(extra[name], dtype=np.float64) for name in names)
    say(f"signals: {', '.join(names) or 'none'}")
    return names


def _fit_vectorizers(texts: list[str], config: TrainingConfig, say: Progress) -> dict[str, Any]:
    """The n-gram vectorizers, fitted on every training text once.

    Their vocabulary and IDF use no label, so no fold leaks an answer.
    """
    vectorizers: dict[str, Any] = {CHAR: char_vectorizer(config.features)}
    if config.features.word_ngrams is not None:
        vectorizers[WORD] = word_vectorizer(config.features)
    for name, vectorizer in vectorizers.items():
        vectorizer.fit(texts)
        say(f"{name} features: {len(vectorizer.vocabulary_)} n-grams")
    return vectorizers


def _fit_blocks(
    blocks: dict[str, Any],
    truth: npt.NDArray[np.intp],
    folds: StratifiedKFold,
    entry_model: Any,
    config: TrainingConfig,
    say: Progress,
) -> tuple[dict[str, Any], list[npt.NDArray[np.float64]]]:
    """One base model per feature block, fitted on all texts, with its out-of-fold scores for the stacker."""
    base_models: dict[str, Any] = {}
    held_out_scores = []
    for name, matrix in blocks.items():
        if name == ENTRIES and entry_model is not None:  # fitted on the catalog alone: every score is held out
            base_models[name] = entry_model
            held_out_scores.append(entry_model.decision_function(matrix))
            continue
        model = base_model(name, config.parameters, config.seed)
        held_out_scores.append(as_logits(cross_val_predict(model, matrix, truth, cv=folds, method="decision_function")))
        base_models[name] = model.fit(matrix, truth)
        say(f"{name} model: fitted on {folds.get_n_splits()} folds and on all {len(truth)} texts")
    return base_models, held_out_scores


@dataclass(frozen=True)
class _Stack:
    """The meta model over the blocks' scores, its temperature, abstention threshold and cross-validated metrics."""

    meta: Any
    temperature: float
    threshold: float
    metrics: dict[str, Any]


def _fit_stack(
    stacked_inputs: npt.NDArray[np.float64],
    truth: npt.NDArray[np.intp],
    labels: tuple[str, ...],
    folds: StratifiedKFold,
    config: TrainingConfig,
    say: Progress,
    tuned: npt.NDArray[np.intp],
) -> _Stack:
    """Calibrates the stacker on the `tuned` rows' out-of-fold scores, picks the threshold for the target precision
    there, and fits the stacker on all rows."""
    meta_logits = as_logits(
        cross_val_predict(meta_model(config.parameters), stacked_inputs, truth, cv=folds, method="decision_function")
    )
    temperature = fit_temperature(meta_logits[tuned], truth[tuned])
    probabilities = softmax(meta_logits[tuned], temperature)
    top = probabilities.argmax(axis=1)
    confidences = probabilities.max(axis=1)
    threshold = precision_threshold(confidences, top == truth[tuned], config.target_precision)
    meta = meta_model(config.parameters).fit(stacked_inputs, truth)
    metrics = score(
        [labels[i] for i in truth[tuned]],
        [labels[i] for i in top],
        confidences.tolist(),
        (confidences < threshold).tolist(),
    )
    del metrics["train_seconds"]
    metrics["folds"] = folds.get_n_splits()
    metrics["temperature"] = temperature
    say(
        f"cross-validated: macro_f1 {metrics['macro_f1']:.4f}, accuracy {metrics['accuracy']:.4f}, "
        f"ece {metrics['ece']:.4f}, threshold {threshold:.3f} covers {metrics['coverage']:.1%} "
        f"at {metrics['selective_accuracy'] or 0:.4f} accuracy"
    )
    return _Stack(meta=meta, temperature=temperature, threshold=threshold, metrics=metrics)
