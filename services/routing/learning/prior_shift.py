"""A deployment's own mix of parties: class priors re-estimated from its unlabelled traffic (Saerens et al., 2002).

A router trained where most complaints go to the property manager serves, elsewhere, traffic that mostly goes to
the street office. Given calibrated posteriors p(y|x) under the training priors pi(y), EM finds the priors pi'(y)
of the new texts: adjust p'(y|x) = p(y|x) pi'(y)/pi(y) (renormalised), set pi'(y) to the mean of p'(y|x), repeat.
The adjusted posteriors stay calibrated when the classifier was and only the priors moved (label shift).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from services.routing.learning.calibration import Floats

MAX_ITERATIONS = 200
TOLERANCE = 1e-6
# No party's prior is allowed to reach zero: one unseen month must not rule a party out for good.
MIN_PRIOR = 1e-4


@dataclass(frozen=True)
class PriorShift:
    """Training priors and the estimated deployment priors, both in `labels` order."""

    labels: tuple[str, ...]
    training: tuple[float, ...]
    estimated: tuple[float, ...]
    iterations: int

    def adjust(self, probabilities: Floats) -> Floats:
        """`probabilities` (rows over `labels`, under the training priors) moved to the estimated priors."""
        return adjust_posteriors(probabilities, np.array(self.training), np.array(self.estimated))

    def to_json(self) -> dict[str, object]:
        """{"training": {label: prior}, "estimated": {label: prior}, "iterations"}."""
        return {
            "training": {label: round(p, 4) for label, p in zip(self.labels, self.training, strict=True)},
            "estimated": {label: round(p, 4) for label, p in zip(self.labels, self.estimated, strict=True)},
            "iterations": self.iterations,
        }

    @classmethod
    def from_json(cls, value: Mapping[str, object]) -> PriorShift:
        """The inverse of `to_json`; raises KeyError, TypeError or ValueError on a malformed dict."""
        training, estimated = value["training"], value["estimated"]
        if not isinstance(training, Mapping) or not isinstance(estimated, Mapping):
            raise TypeError("training and estimated priors must be objects")
        labels = tuple(sorted(training))
        return cls(
            labels=labels,
            training=tuple(float(training[label]) for label in labels),
            estimated=tuple(float(estimated[label]) for label in labels),
            iterations=int(str(value["iterations"])),
        )


def adjust_posteriors(probabilities: Floats, training: Floats, target: Floats) -> Floats:
    """p'(y|x) proportional to p(y|x) * target(y) / training(y), rows renormalised."""
    ratio = np.clip(target, MIN_PRIOR, None) / np.clip(training, MIN_PRIOR, None)
    weighted = np.asarray(probabilities, dtype=np.float64) * ratio[np.newaxis, :]
    result: Floats = weighted / weighted.sum(axis=1, keepdims=True)
    return result


def estimate_priors(
    probabilities: Floats, training: Floats, *, max_iterations: int = MAX_ITERATIONS, tolerance: float = TOLERANCE
) -> tuple[Floats, int]:
    """The EM estimate of the priors of the texts whose posteriors (under `training` priors) are `probabilities`,
    and the iterations it took. Raises ValueError on no texts or mismatched shapes."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    training = np.asarray(training, dtype=np.float64)
    if probabilities.ndim != 2 or len(probabilities) == 0:
        raise ValueError("prior estimation needs a non-empty (texts, labels) matrix of posteriors")
    if probabilities.shape[1] != len(training):
        raise ValueError(f"posteriors have {probabilities.shape[1]} columns but there are {len(training)} priors")
    priors = training / training.sum()
    for iteration in range(1, max_iterations + 1):
        updated = np.clip(adjust_posteriors(probabilities, training, priors).mean(axis=0), MIN_PRIOR, None)
        updated /= updated.sum()
        if np.abs(updated - priors).max() < tolerance:
            return updated, iteration
        priors = updated
    return priors, max_iterations


def training_priors(labels: Sequence[str], truth: Sequence[str]) -> Floats:
    """The share of each of `labels` among the training labels `truth` (floored at MIN_PRIOR)."""
    counts = np.array([sum(1 for label in truth if label == wanted) for wanted in labels], dtype=np.float64)
    if counts.sum() == 0:
        raise ValueError("no training labels to take priors from")
    shares = np.clip(counts / counts.sum(), MIN_PRIOR, None)
    result: Floats = shares / shares.sum()
    return result


def fit_prior_shift(labels: Sequence[str], training: Floats, probabilities: Floats) -> PriorShift:
    """The prior shift from the training priors to those EM estimates for texts with these posteriors."""
    estimated, iterations = estimate_priors(probabilities, training)
    return PriorShift(
        labels=tuple(labels),
        training=tuple(float(p) for p in training),
        estimated=tuple(float(p) for p in estimated),
        iterations=iterations,
    )
