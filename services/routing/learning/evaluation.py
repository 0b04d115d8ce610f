"""What any router predicts (`Prediction`, `Predictor`) and how its predictions are scored against true labels."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from services.routing.learning.calibration import ECE_BINS, expected_calibration_error

logger = logging.getLogger(__name__)

# The keys of the evaluation report, in order; `linli eval routing` prints exactly these.
REPORT_KEYS: tuple[str, ...] = (
    "n",
    "accuracy",
    "macro_f1",
    "coverage",
    "selective_accuracy",
    "ece",
    "per_class",
    "confusion",
    "train_seconds",
)
EVAL_BATCH = 256


@dataclass(frozen=True)
class Prediction:
    """One routing prediction.

    Attributes:
        label: the most probable label, reported even when abstaining (so accuracy counts every item).
        probabilities: every known label's probability; they sum to 1.
        abstained: True when the router is not sure enough and a person decides.
    """

    label: str
    probabilities: dict[str, float]
    abstained: bool

    @property
    def confidence(self) -> float:
        """Probability of the top label."""
        return self.probabilities.get(self.label, 0.0)


def predictions_from(probabilities: np.ndarray, labels: Sequence[str], threshold: float) -> list[Prediction]:
    """One prediction per row of `probabilities` (columns in `labels` order); the top label is kept when abstaining,
    for evaluation and for a person."""
    predictions = []
    for row in probabilities:
        top = int(row.argmax())
        predictions.append(
            Prediction(
                label=labels[top],
                probabilities={label: float(p) for label, p in zip(labels, row, strict=True)},
                abstained=bool(row[top] < threshold),
            )
        )
    return predictions


class Predictor(Protocol):
    """Anything that routes texts: the trained classifier today, the combined router (classifier, responsibility
    catalog, precedent vote) later."""

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        """One prediction per text, in order."""
        ...


def _f1(precision: float, recall: float) -> float:
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def score(
    truth: Sequence[str],
    predicted: Sequence[str],
    confidences: Sequence[float],
    abstained: Sequence[bool],
) -> dict[str, Any]:
    """The report of REPORT_KEYS (train_seconds 0) for aligned sequences of true and top labels.

    Labels are those seen in `truth` or `predicted` (as scikit-learn's macro average does); selective_accuracy
    is None when every item was abstained on.
    """
    n = len(truth)
    if not n == len(predicted) == len(confidences) == len(abstained):
        raise ValueError("truth, predicted, confidences and abstained must have the same length")
    if n == 0:
        raise ValueError("nothing to score")
    hits = np.array([t == p for t, p in zip(truth, predicted, strict=True)])
    covered = ~np.asarray(abstained, dtype=bool)
    labels = sorted(set(truth) | set(predicted))
    confusion = {t: {p: 0 for p in labels} for t in labels}
    for t, p in zip(truth, predicted, strict=True):
        confusion[t][p] += 1
    per_class: dict[str, dict[str, float | int]] = {}
    for label in labels:
        true_positive = confusion[label][label]
        support = sum(confusion[label].values())
        predicted_count = sum(confusion[t][label] for t in labels)
        precision = true_positive / predicted_count if predicted_count else 0.0
        recall = true_positive / support if support else 0.0
        per_class[label] = {"precision": precision, "recall": recall, "f1": _f1(precision, recall), "support": support}
    return {
        "n": n,
        "accuracy": float(hits.mean()),
        "macro_f1": float(np.mean([stats["f1"] for stats in per_class.values()])),
        "coverage": float(covered.mean()),
        "selective_accuracy": float(hits[covered].mean()) if covered.any() else None,
        "ece": expected_calibration_error(np.asarray(confidences, dtype=np.float64), hits, ECE_BINS),
        "per_class": per_class,
        "confusion": {t: {p: count for p, count in row.items() if count} for t, row in confusion.items()},
        "train_seconds": 0.0,
    }


def evaluate(
    predictor: Predictor,
    texts: Sequence[str],
    truth: Sequence[str],
    *,
    train_seconds: float = 0.0,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Runs `predictor` over `texts` in batches and scores it against `truth`; see `score` for the report."""
    predictions: list[Prediction] = []
    for start in range(0, len(texts), EVAL_BATCH):
        predictions.extend(predictor.predict(texts[start : start + EVAL_BATCH]))
        if progress is not None:
            progress(f"predicted {len(predictions)}/{len(texts)}")
    if len(predictions) != len(texts):
        raise ValueError(f"the predictor returned {len(predictions)} predictions for {len(texts)} texts")
    report = score(
        truth,
        [p.label for p in predictions],
        [p.confidence for p in predictions],
        [p.abstained for p in predictions],
    )
    report["train_seconds"] = round(train_seconds, 3)
    return report
