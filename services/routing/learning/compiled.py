"""A fitted model's arithmetic without scikit-learn's per-call input checks: the same numbers, a fraction of the CPU.

Route scores one text at a time, and for one short text scikit-learn's `transform` and `decision_function` spend
most of their time validating the input (check_array, feature names, dataframe detection) rather than computing.
These classes keep the fitted vocabulary, idf and coefficients and do only the computation, with the same numpy
and scipy operations in the same order as scikit-learn 1.x, so the results are bit for bit the same
(tests/unit/routing/test_compiled_blocks.py compares them on many texts).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC
from sklearn.utils.sparsefuncs_fast import inplace_csr_row_normalize_l1, inplace_csr_row_normalize_l2

# scipy's sparse matrices have no type information.
SparseRows = Any
_NORMALIZERS: dict[str | None, Callable[[SparseRows], None] | None] = {
    "l1": inplace_csr_row_normalize_l1,
    "l2": inplace_csr_row_normalize_l2,
    None: None,
}


class TfidfRows:
    """A fitted `TfidfVectorizer`'s `transform`: analyzer, counts over the vocabulary, sublinear tf, idf, norm."""

    def __init__(self, vectorizer: TfidfVectorizer) -> None:
        if vectorizer.norm not in _NORMALIZERS:
            raise ValueError(f"norm {vectorizer.norm!r} is not compiled; use the vectorizer itself")
        self._analyze = vectorizer.build_analyzer()
        self._vocabulary: dict[str, int] = vectorizer.vocabulary_
        self._dtype = np.dtype(vectorizer.dtype)
        self._binary = bool(vectorizer.binary)
        self._sublinear_tf = bool(vectorizer.sublinear_tf)
        self._idf = vectorizer.idf_ if vectorizer.use_idf else None
        self._normalize = _NORMALIZERS[vectorizer.norm]

    def transform(self, texts: Sequence[str]) -> SparseRows:
        """The TF-IDF rows of `texts`, as `vectorizer.transform(texts)` returns them (CSR, sorted indices)."""
        indices: list[int] = []
        counts: list[int] = []
        indptr = [0]
        for text in texts:
            found = self._counts(text)
            indices.extend(found.keys())
            counts.extend(found.values())
            indptr.append(len(indices))
        rows = sp.csr_array(
            (
                np.asarray(counts, dtype=self._dtype),
                np.asarray(indices, dtype=np.int32),
                np.asarray(indptr, dtype=np.int32),
            ),
            shape=(len(texts), len(self._vocabulary)),
        )
        rows.sort_indices()
        data = rows.data
        if self._binary:
            data.fill(1)
        if self._sublinear_tf:
            np.log(data, data)
            data += 1.0
        if self._idf is not None:
            data *= self._idf[rows.indices]
        if self._normalize is not None:
            self._normalize(rows)
        return rows

    def _counts(self, text: str) -> dict[int, int]:
        """{vocabulary index: occurrences} of the text's n-grams; unknown n-grams are left out, as in training."""
        vocabulary = self._vocabulary
        return {
            index: count
            for gram, count in Counter(self._analyze(text)).items()
            if (index := vocabulary.get(gram)) is not None
        }


class LinearScores:
    """A fitted linear classifier's `decision_function` (LinearSVC, LogisticRegression): X @ coef.T + intercept."""

    def __init__(self, model: LinearSVC | LogisticRegression) -> None:
        self._coef: npt.NDArray[Any] = model.coef_
        # scipy multiplies a sparse matrix by a C-ordered copy of the dense operand; made once here, not per call.
        self._coef_t_c_order = np.ascontiguousarray(model.coef_.T)
        self._intercept: npt.NDArray[Any] = model.intercept_

    def decision_function(self, rows: SparseRows | npt.NDArray[Any]) -> npt.NDArray[Any]:
        """(n, classes) scores, or (n,) for a binary model, exactly as scikit-learn computes them."""
        product = rows @ self._coef_t_c_order if sp.issparse(rows) else rows @ self._coef.T
        scores: npt.NDArray[Any] = product + self._intercept
        return scores.reshape(-1) if scores.ndim > 1 and scores.shape[1] == 1 else scores
