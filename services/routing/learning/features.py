"""Feature blocks for Chinese texts: character and word TF-IDF, and sentence embeddings from an injected encoder."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from linli.embedding import Embedder, Vectors


class Encoder(Protocol):
    """Turns texts into float32 sentence vectors of a fixed dimension (e.g. m3e-small via retrieval's Embed RPC)."""

    @property
    def model_name(self) -> str:
        """The embedding model's name, recorded in the model directory to refuse a different one later."""
        ...

    @property
    def dimension(self) -> int:
        """Length of every vector."""
        ...

    def __call__(self, texts: list[str]) -> Vectors:
        """Returns an array of shape (len(texts), dimension)."""
        ...


class EmbedderEncoder:
    """An Encoder over retrieval's `Embedder` (a local model, or anything with `embed`)."""

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder

    @property
    def model_name(self) -> str:
        return self._embedder.model_name

    @property
    def dimension(self) -> int:
        return self._embedder.dimension

    def __call__(self, texts: list[str]) -> Vectors:
        return self._embedder.embed(texts)


@dataclass(frozen=True)
class FeatureConfig:
    """Which feature blocks a model uses and how they are built; stored in the model directory's manifest.

    Attributes:
        char_ngrams: smallest and largest character n-gram; Chinese words are mostly 1-3 characters.
        word_ngrams: smallest and largest word n-gram over jieba's segmentation; None leaves words out.
        min_df: n-grams in fewer training texts than this are dropped (mostly names, numbers and typos).
        embed: whether to use sentence embeddings (needs an Encoder at training and prediction time).
        head_chars: characters from the start of a text that are embedded.
        tail_chars: characters from the end of a text longer than `head_chars` that are embedded as well, because
            long messages often state their request (and so their department) last.
    """

    char_ngrams: tuple[int, int] = (1, 3)
    word_ngrams: tuple[int, int] | None = (1, 2)
    min_df: int = 2
    embed: bool = True
    head_chars: int = 128
    tail_chars: int = 128

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> FeatureConfig:
        """The inverse of `to_json`; raises TypeError or ValueError on a malformed dict."""
        words = value["word_ngrams"]
        return cls(
            char_ngrams=(int(value["char_ngrams"][0]), int(value["char_ngrams"][1])),
            word_ngrams=None if words is None else (int(words[0]), int(words[1])),
            min_df=int(value["min_df"]),
            embed=bool(value["embed"]),
            head_chars=int(value["head_chars"]),
            tail_chars=int(value["tail_chars"]),
        )


_JIEBA_QUIET = 60  # above CRITICAL: nothing


def segment_words(text: str) -> list[str]:
    """jieba's words of `text`, without whitespace tokens; module-level so a fitted vectorizer pickles by name."""
    import jieba  # its dictionary loads on first use (about a second); only word features pay for it

    # jieba prints its dictionary loading at INFO to stderr. Only when another module changed the level: setting it
    # clears the cache of every logger in the process, which cost as much as the segmentation itself.
    if jieba.default_logger.level != _JIEBA_QUIET:
        jieba.setLogLevel(_JIEBA_QUIET)
    return [word for word in jieba.lcut(text) if word.strip()]


def char_vectorizer(config: FeatureConfig) -> TfidfVectorizer:
    """Sublinear TF-IDF over character n-grams: robust to segmentation errors and new words."""
    return TfidfVectorizer(
        analyzer="char", ngram_range=config.char_ngrams, sublinear_tf=True, min_df=config.min_df, dtype=np.float32
    )


def word_vectorizer(config: FeatureConfig) -> TfidfVectorizer:
    """Sublinear TF-IDF over jieba word n-grams: captures multi-character terms as units."""
    if config.word_ngrams is None:
        raise ValueError("word features are disabled in this configuration")
    return TfidfVectorizer(
        tokenizer=segment_words,
        token_pattern=None,
        lowercase=True,
        ngram_range=config.word_ngrams,
        sublinear_tf=True,
        min_df=config.min_df,
        dtype=np.float32,
    )


def embedding_features(texts: Sequence[str], encoder: Encoder, config: FeatureConfig) -> Vectors:
    """[head vector, tail vector] per text; a text no longer than `head_chars` uses its head vector twice.

    Only long texts are embedded twice, so the cost stays close to one pass over the corpus.
    """
    heads = encoder([text[: config.head_chars] for text in texts])
    long_rows = [row for row, text in enumerate(texts) if len(text) > config.head_chars]
    tails = heads.copy()
    if long_rows and config.tail_chars > 0:
        tails[long_rows] = encoder([texts[row][-config.tail_chars :] for row in long_rows])
    for name, block in (("head", heads), ("tail", tails)):
        if block.shape != (len(texts), encoder.dimension):
            raise ValueError(
                f"encoder {encoder.model_name} returned {name} vectors of shape {block.shape}, "
                f"expected ({len(texts)}, {encoder.dimension})"
            )
    return np.hstack([heads, tails]).astype(np.float32, copy=False)
