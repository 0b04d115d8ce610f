"""Who acted, with a confidence: the reply rules, and a reply classifier self-trained on the rows they are sure of.

The classifier (character n-gram TF-IDF, logistic regression) learns from the replies whose rules are clear how
replies of each party read, so it can also judge replies that name no actor plainly. Its probabilities are
calibrated by temperature scaling on cross-validated (out-of-fold) predictions, and a rule-labelled row is only ever
scored by a model that did not see it. The two are combined as a product of experts: rules with no evidence are
uniform and leave the model to decide; where the rules are sure the model may confirm but not overrule (`combine`).
The calibration target is the rules' label, not a person's: the confidence says how surely the reply reads like the
replies whose actor is plain.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from services.routing.history.rules import DONE_WEIGHT, PARTIES, RuleEvidence, evidence, substance
from services.routing.learning.calibration import ECE_BINS, expected_calibration_error, fit_temperature, softmax

Floats = npt.NDArray[np.float64]
# A rule label is trusted for self-training when the top party has a done action and leads by this much.
CONFIDENT_MARGIN = 2.0
# Rule scores to probabilities: a single done clause ahead of nothing else is about 0.86.
RULE_TEMPERATURE = 1.2
FOLDS = 5
# Too few sure rows to learn from: the rules decide alone.
MIN_MODEL_ROWS = 10
# A party with fewer sure rows is not modelled (balanced class weights would blow a couple of rows up into a
# pull on every reply); the model stays uninformative about it.
MIN_CLASS_ROWS = 5
SEED = 0


@dataclass(frozen=True)
class InferredLabel:
    """The party most probably acting, its probability, and each party's."""

    label: str
    confidence: float
    probabilities: dict[str, float]


@dataclass(frozen=True)
class LabellingReport:
    """How the self-training went: sure rule rows per party, and how the calibrated model agrees with them out of
    fold (None when there were too few to train it)."""

    rule_confident: dict[str, int]
    model_agreement: float | None
    model_ece: float | None
    temperature: float | None


def rule_probabilities(found: RuleEvidence) -> Floats:
    """Softmax of the rule scores over PARTIES; uniform when the reply names nobody."""
    scores = np.array([[found.scores[party] for party in PARTIES]], dtype=np.float64)
    probabilities: Floats = softmax(scores, RULE_TEMPERATURE)[0]
    return probabilities


def is_rule_confident(found: RuleEvidence) -> bool:
    """Whether the rules alone are sure enough to teach the model."""
    return found.scores[found.top] >= DONE_WEIGHT and found.margin >= CONFIDENT_MARGIN


def _features(replies: list[str]) -> Any:
    """TF-IDF of character 1-3-grams, fitted once on every reply: it sees no label, and one fit serves every fold."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectoriser = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), min_df=2, sublinear_tf=True, max_features=60000)
    return vectoriser.fit_transform(replies)


def _fit_predict(train: Any, train_labels: npt.NDArray[np.intp], rows: Any) -> Floats:
    """Log-probabilities of `rows` over the training labels present, columns in sorted label order."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=4.0, class_weight="balanced", max_iter=2000, random_state=SEED)
    model.fit(train, train_labels)
    result: Floats = model.predict_log_proba(rows)
    return result


def _spread(log_probabilities: Floats, present: list[int], temperature: float) -> Floats:
    """Calibrated probabilities over all PARTIES: a party the model never saw gets the uninformative 1/len(PARTIES)
    and the others share the rest, so the model neither favours nor rules out what it cannot know."""
    calibrated = softmax(log_probabilities, temperature)
    share = len(present) / len(PARTIES)
    full = np.full((len(calibrated), len(PARTIES)), 1.0 / len(PARTIES))
    full[:, present] = calibrated * share
    return full


def _model_probabilities(
    replies: list[str], sure: list[int], sure_labels: list[int], say: Callable[[str], None]
) -> tuple[Floats, LabellingReport | None]:
    """Model probabilities for every reply (out of fold for the sure rows), or None when it cannot be trained."""
    from sklearn.model_selection import StratifiedKFold

    counts = np.bincount(sure_labels, minlength=len(PARTIES))
    present = [index for index in range(len(PARTIES)) if counts[index] >= MIN_CLASS_ROWS]
    kept = [(row, label) for row, label in zip(sure, sure_labels, strict=True) if label in present]
    if len(present) < 2 or len(kept) < MIN_MODEL_ROWS:
        return np.full((len(replies), len(PARTIES)), 1.0 / len(PARTIES)), None
    rows = [row for row, _ in kept]
    labels = np.array([present.index(label) for _, label in kept])
    features = _features(replies)
    sure_features = features[rows]
    folds = min(FOLDS, int(np.bincount(labels).min()))
    out_of_fold = np.zeros((len(rows), len(present)))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=SEED)
    for fold, (train, held) in enumerate(splitter.split(sure_features, labels), start=1):
        out_of_fold[held] = _fit_predict(sure_features[train], labels[train], sure_features[held])
        say(f"self-training fold {fold}/{folds}")
    temperature = fit_temperature(out_of_fold, labels)
    everything = _spread(_fit_predict(sure_features, labels, features), present, temperature)
    everything[rows] = _spread(out_of_fold, present, temperature)
    calibrated = softmax(out_of_fold, temperature)
    hits = calibrated.argmax(axis=1) == labels
    report = LabellingReport(
        rule_confident={},
        model_agreement=float(hits.mean()),
        model_ece=expected_calibration_error(calibrated.max(axis=1), hits, ECE_BINS),
        temperature=temperature,
    )
    return everything, report


def combine(rules: Floats, model: Floats, sure: Sequence[int]) -> Floats:
    """Product of the two experts, except that the model cannot overrule or dampen a reply the rules are sure of.

    Nearly every reply on the board is an office's, so a reply model learns the office's voice: on a reply that
    plainly says 已督促物业公司整改 it still leans to the office. Where the rules are sure, the model may only
    confirm (the product, when it agrees) or stay out (the rules alone, when it does not).
    """
    if len(rules) == 0:
        return rules
    product = softmax(np.log(np.clip(rules, 1e-12, 1.0)) + np.log(np.clip(model, 1e-12, 1.0)))
    for row in sure:
        if model[row].argmax() != rules[row].argmax():
            product[row] = rules[row]
    return product


def infer_labels(
    replies: Sequence[str], progress: Callable[[str], None] | None = None
) -> tuple[list[InferredLabel], LabellingReport]:
    """The party that acted according to each reply (already scrubbed and not boilerplate), with probabilities."""
    say = progress or (lambda _line: None)
    found = [evidence(reply) for reply in replies]
    sure = [row for row, item in enumerate(found) if is_rule_confident(item)]
    sure_labels = [PARTIES.index(found[row].top) for row in sure]
    rule_confident = {party: sure_labels.count(index) for index, party in enumerate(PARTIES)}
    say(f"rules are sure of {len(sure)}/{len(replies)} replies: {rule_confident}")
    model, report = _model_probabilities([substance(reply) for reply in replies], sure, sure_labels, say)
    rules = np.vstack([rule_probabilities(item) for item in found]) if found else np.zeros((0, len(PARTIES)))
    probabilities = combine(rules, model, sure)
    labels = [
        InferredLabel(
            label=PARTIES[int(row.argmax())],
            confidence=float(row.max()),
            probabilities={party: float(p) for party, p in zip(PARTIES, row, strict=True)},
        )
        for row in probabilities
    ]
    if report is None:
        return labels, LabellingReport(rule_confident, None, None, None)
    return labels, LabellingReport(rule_confident, report.model_agreement, report.model_ece, report.temperature)
