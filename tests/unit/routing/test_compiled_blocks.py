"""The compiled scoring parts give scikit-learn's numbers bit for bit, on any text, and are never saved."""

from __future__ import annotations

import copy
import logging
import pickle
from functools import cache
from typing import Any

import jieba
import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from services.retrieval.cases import read_corpus
from services.routing.learning import DEFAULT_PRECEDENTS
from services.routing.learning.classifier import StackedClassifier
from services.routing.learning.compiled import LinearScores, TfidfRows
from services.routing.learning.data import LabelledText
from services.routing.learning.features import (
    EmbedderEncoder,
    FeatureConfig,
    char_vectorizer,
    segment_words,
    word_vectorizer,
)
from services.routing.learning.training import TrainingConfig, train
from services.routing.passages import reading_texts
from tests.unit.fakes import HashEmbedder

HELDOUT = DEFAULT_PRECEDENTS.with_name("heldout_cases.jsonl")
# Texts a vectorizer treats specially: nothing left, whitespace runs, upper case, emoji and symbols, full-width
# forms, n-grams never seen in training, and texts far longer than any in the corpus.
ODD_TEXTS = [
    "",
    " ",
    "\n\t \u3000",
    "a",
    "OK",
    "Hello World 123, THE lift is BROKEN!!!",
    "😀😀 楼上漏水 🙏🏻 #求助# @物业",
    "Ｗｉ－Ｆｉ 坏了，１２３号楼",
    "龘靐齉爩",
    "停水" * 900,
    "楼道的灯坏了,晚上一片漆黑。" * 120,
    "电梯\n\n\n困人   ,   快来",
]


@cache
def corpus_texts() -> tuple[list[str], list[str], list[str]]:
    """(training texts, their labels, held-out and odd texts), as the router reads them."""
    train_cases = read_corpus(DEFAULT_PRECEDENTS)[:400]
    heldout = read_corpus(HELDOUT)
    texts = reading_texts([case.complaint for case in train_cases])
    others = reading_texts([case.complaint for case in heldout]) + ODD_TEXTS
    return texts, [case.party for case in train_cases], others


@cache
def fitted(kind: str) -> TfidfVectorizer:
    config = FeatureConfig()
    vectorizer = char_vectorizer(config) if kind == "char" else word_vectorizer(config)
    return vectorizer.fit(corpus_texts()[0])


def assert_same_rows(expected: Any, actual: Any) -> None:
    assert actual.shape == expected.shape
    assert actual.dtype == expected.dtype
    assert np.array_equal(actual.indptr, expected.indptr)
    assert np.array_equal(actual.indices, expected.indices)
    assert np.array_equal(actual.data, expected.data)  # exact: not allclose


def assert_same_scores(expected: Any, actual: Any) -> None:
    assert actual.shape == expected.shape
    assert actual.dtype == expected.dtype
    assert np.array_equal(actual, expected)


@pytest.mark.parametrize("kind", ["char", "word"])
def test_tfidf_rows_equal_the_vectorizers_transform_text_by_text_and_in_a_batch(kind: str) -> None:
    vectorizer = fitted(kind)
    rows = TfidfRows(vectorizer)
    texts = corpus_texts()[2]
    for text in texts:
        assert_same_rows(vectorizer.transform([text]), rows.transform([text]))
    assert_same_rows(vectorizer.transform(texts), rows.transform(texts))
    assert rows.transform([]).shape == (0, len(vectorizer.vocabulary_))


@pytest.mark.parametrize(
    "options",
    [
        {"binary": True},
        {"sublinear_tf": False},
        {"norm": "l1"},
        {"norm": None},
        {"use_idf": False},
        {"dtype": np.float64, "ngram_range": (2, 4)},
    ],
)
def test_tfidf_rows_follow_every_option_of_the_vectorizer(options: dict[str, Any]) -> None:
    settings = {"analyzer": "char", "ngram_range": (1, 3), "sublinear_tf": True, "min_df": 2, "dtype": np.float32}
    vectorizer = TfidfVectorizer(**(settings | options)).fit(corpus_texts()[0])
    texts = corpus_texts()[2]
    assert_same_rows(vectorizer.transform(texts), TfidfRows(vectorizer).transform(texts))


def test_an_uncompiled_norm_is_refused() -> None:
    vectorizer = fitted("char")
    vectorizer_with_max_norm = copy.deepcopy(vectorizer)
    vectorizer_with_max_norm.norm = "max"
    with pytest.raises(ValueError, match="norm 'max'"):
        TfidfRows(vectorizer_with_max_norm)


@pytest.mark.parametrize("classes", [3, 2])
def test_linear_scores_equal_decision_function_on_sparse_rows(classes: int) -> None:
    texts, labels, others = corpus_texts()
    kept = [i for i, label in enumerate(labels) if label in sorted(set(labels))[:classes]]
    vectorizer = fitted("char")
    model = LinearSVC(C=0.5, random_state=0).fit(
        vectorizer.transform([texts[i] for i in kept]), [labels[i] for i in kept]
    )
    scores = LinearScores(model)
    rows = vectorizer.transform(others)
    assert_same_scores(model.decision_function(rows), scores.decision_function(rows))
    for text in others[:60] + ODD_TEXTS:
        row = vectorizer.transform([text])
        assert_same_scores(model.decision_function(row), scores.decision_function(row))


@pytest.mark.parametrize(("classes", "dtype"), [(3, np.float32), (2, np.float32), (3, np.float64)])
def test_linear_scores_equal_decision_function_on_dense_rows(classes: int, dtype: type) -> None:
    rng = np.random.default_rng(7)
    vectors: np.ndarray = rng.standard_normal((300, 64)).astype(dtype)
    truth = rng.integers(0, classes, 300)
    model = LogisticRegression(C=10.0, max_iter=3000).fit(vectors, truth)
    scores = LinearScores(model)
    others: np.ndarray = rng.standard_normal((50, 64)).astype(dtype)
    assert_same_scores(model.decision_function(others), scores.decision_function(others))
    for row in others:
        assert_same_scores(model.decision_function(row[np.newaxis]), scores.decision_function(row[np.newaxis]))


@cache
def stacked() -> tuple[StackedClassifier, EmbedderEncoder]:
    """A model with every text block (characters, jieba words, embeddings) on the corpus."""
    texts, labels, _ = corpus_texts()
    encoder = EmbedderEncoder(HashEmbedder(dimension=16))
    config = TrainingConfig(features=FeatureConfig(head_chars=32, tail_chars=16), folds=3)
    items = [LabelledText(text, label) for text, label in zip(texts, labels, strict=True)]
    return train(items, config=config, encoder=encoder).classifier, encoder


def test_the_stacked_classifier_decides_the_same_compiled_and_with_scikit_learns_objects() -> None:
    classifier, encoder = stacked()
    texts = corpus_texts()[2]
    compiled = [classifier.explain([text], encoder) for text in texts]
    compiled_batch = classifier.probabilities(texts, encoder)
    reference = copy.deepcopy(classifier)
    reference.compiled = False
    for text, (probabilities, attributions) in zip(texts, compiled, strict=True):
        expected_probabilities, expected_attributions = reference.explain([text], encoder)
        assert np.array_equal(probabilities, expected_probabilities)
        assert attributions == expected_attributions
    assert np.array_equal(compiled_batch, reference.probabilities(texts, encoder))


def test_compiled_parts_are_never_saved_with_the_model() -> None:
    trained, encoder = stacked()
    classifier = copy.deepcopy(trained)  # copied as pickled: without compiled parts
    assert "_compiled_parts" not in vars(classifier)
    unused = pickle.dumps(classifier)
    classifier.explain(["电梯又坏了"], encoder)  # builds the compiled parts
    assert "_compiled_parts" in vars(classifier)
    assert pickle.dumps(classifier) == unused
    loaded = pickle.loads(unused)  # noqa: S301 (our own bytes)
    assert loaded.compiled
    assert np.array_equal(
        loaded.probabilities(["电梯又坏了"], encoder), classifier.probabilities(["电梯又坏了"], encoder)
    )


def test_segmenting_keeps_jieba_quiet_without_resetting_every_logger(monkeypatch: pytest.MonkeyPatch) -> None:
    jieba.setLogLevel(logging.WARNING)  # as linli.pii does when it loads jieba's dictionary
    assert segment_words("楼上 漏水") == ["楼上", "漏水"]
    assert jieba.default_logger.level == 60
    calls: list[int] = []
    monkeypatch.setattr(jieba, "setLogLevel", calls.append)
    segment_words("电梯坏了")
    assert calls == []  # setting a level clears every logger's cache: not once per text
