"""Probability calibration (temperature scaling), expected calibration error and the abstention threshold."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]
ECE_BINS = 15
# Temperatures searched, in log space: wide enough for an over- or under-confident model, narrow enough to stay sane.
MIN_LOG_TEMPERATURE, MAX_LOG_TEMPERATURE = -3.0, 3.0


def softmax(logits: Floats, temperature: float = 1.0) -> Floats:
    """Row-wise softmax of `logits / temperature`, computed stably."""
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    scaled -= scaled.max(axis=1, keepdims=True)
    exp = np.exp(scaled)
    result: Floats = exp / exp.sum(axis=1, keepdims=True)
    return result


def _mean_nll(logits: Floats, truth: npt.NDArray[np.intp], temperature: float) -> float:
    probabilities = softmax(logits, temperature)[np.arange(len(truth)), truth]
    return float(-np.log(np.clip(probabilities, 1e-12, 1.0)).mean())


def fit_temperature(logits: Floats, truth: npt.NDArray[np.intp]) -> float:
    """The temperature minimising the negative log-likelihood of held-out logits (Guo et al., 2017).

    One parameter cannot reorder classes, so it fixes over- or under-confidence without changing a single
    prediction, and it cannot overfit a few thousand held-out items.
    """
    from scipy.optimize import minimize_scalar

    if len(truth) == 0:
        raise ValueError("no held-out predictions to calibrate on")
    result = minimize_scalar(
        lambda log_t: _mean_nll(logits, truth, float(np.exp(log_t))),
        bounds=(MIN_LOG_TEMPERATURE, MAX_LOG_TEMPERATURE),
        method="bounded",
    )
    return float(np.exp(result.x))


def expected_calibration_error(confidences: Floats, correct: npt.NDArray[np.bool_], bins: int = ECE_BINS) -> float:
    """ECE of the top-label probability: the |accuracy - mean confidence| of each of `bins` equal-width bins
    over [0, 1], weighted by the bin's share of items. 0 for no items."""
    confidences = np.asarray(confidences, dtype=np.float64)
    correct = np.asarray(correct, dtype=bool)
    if len(confidences) == 0:
        return 0.0
    # Bin i holds (i/bins, (i+1)/bins]; a confidence of exactly 0 joins the first bin.
    index = np.clip(np.ceil(confidences * bins).astype(int) - 1, 0, bins - 1)
    error = 0.0
    for b in range(bins):
        members = index == b
        if members.any():
            error += abs(float(correct[members].mean()) - float(confidences[members].mean())) * members.mean()
    return float(error)


def precision_threshold(confidences: Floats, correct: npt.NDArray[np.bool_], target_precision: float) -> float:
    """The lowest confidence threshold whose covered items (confidence >= threshold) reach `target_precision`.

    Walks from the most confident item down and keeps the largest prefix whose accuracy is still on target, so
    the threshold buys as much coverage as the held-out data allows at that precision. Returns a value above
    every confidence (abstain always) when not even the most confident items reach the target.
    """
    if not 0.0 < target_precision <= 1.0:
        raise ValueError(f"target precision must be in (0, 1], got {target_precision}")
    confidences = np.asarray(confidences, dtype=np.float64)
    order = np.argsort(-confidences, kind="stable")
    ranked, hits = confidences[order], np.asarray(correct, dtype=bool)[order]
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    # A prefix may only end where the confidence drops: tied items are covered or abstained together.
    ends = np.flatnonzero(np.append(ranked[1:] < ranked[:-1], True))
    good = ends[precision[ends] >= target_precision]
    if len(good) == 0:
        return float(np.nextafter(1.0, 2.0))
    return float(ranked[good[-1]])
