"""Reading long letters: keep the title and the passages that carry the request, not the first 128 characters.

Real messages to a government hotline run to hundreds of characters, most of them context (how long it has been,
who was called, what they said). The department is decided by what the writer asks for, so a long text is split
into sentences, each scored by request cues (希望, 请求, 恳请, 能否, 请...解决) and by the responsibility catalog's
keywords, and the best ones are kept in their original order, after the title, within a character budget that
the model's head and tail embeddings cover. Short texts pass through unchanged, so the packaged cases, the
catalog's phrasings and everyday complaints read exactly as before.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

# Longer than this, a text is condensed; the head and tail the model embeds are 128 characters each.
LONG_TEXT_CHARS = 256
PASSAGE_BUDGET_CHARS = 256
REQUEST_CUES = ("希望", "请求", "要求", "恳请", "建议", "盼望", "能否", "能不能", "可否", "麻烦", "呼吁", "请")
# "请...解决/处理" spans a clause; the lazy gap keeps it inside one sentence.
REQUEST_PATTERN = re.compile(r"请.{0,20}?(解决|处理|调查|查处|督促|监管|协调|整改|落实|关注|介入|帮助|帮忙)")
SENTENCE_END = re.compile(r"(?<=[。！？!?；;\n])")
CUE_WEIGHT, PATTERN_WEIGHT, KEYWORD_WEIGHT = 1.0, 2.0, 1.5


@dataclass(frozen=True)
class Passage:
    """One sentence of a letter, where it stood, and how strongly it carries the request."""

    index: int
    text: str
    score: float


def split_sentences(text: str) -> list[str]:
    """The non-empty sentences of `text`, cut after Chinese and Western end punctuation and line breaks."""
    return [piece.strip() for piece in SENTENCE_END.split(text) if piece.strip()]


def request_score(sentence: str, keywords: Iterable[str] = ()) -> float:
    """How much `sentence` looks like the writer's request: cue words, a 请...解决 clause, catalog keywords."""
    score = CUE_WEIGHT * sum(1 for cue in REQUEST_CUES if cue in sentence)
    if REQUEST_PATTERN.search(sentence):
        score += PATTERN_WEIGHT
    score += KEYWORD_WEIGHT * sum(1 for keyword in keywords if keyword in sentence)
    return score


def score_passages(sentences: Sequence[str], keywords: Sequence[str] = ()) -> list[Passage]:
    """Every sentence with its request score; later sentences break ties, since letters end with their ask."""
    count = len(sentences)
    return [
        Passage(index, sentence, request_score(sentence, keywords) + 0.01 * index / max(count, 1))
        for index, sentence in enumerate(sentences)
    ]


def request_passages(
    text: str, *, keywords: Sequence[str] = (), budget: int = PASSAGE_BUDGET_CHARS, long_text: int = LONG_TEXT_CHARS
) -> str:
    """`text` condensed to its title (first line, when a title was prepended) and its best-scoring sentences in
    their original order, at most about `budget` characters; a text of at most `long_text` characters is returned
    as it is."""
    if len(text) <= long_text:
        return text
    title, _, body = text.partition("\n") if "\n" in text[:80] else ("", "", text)
    remaining = budget - len(title)
    chosen: list[Passage] = []
    for passage in sorted(score_passages(split_sentences(body), keywords), key=lambda p: -p.score):
        if remaining <= 0:
            break
        clipped = passage.text[:remaining]
        chosen.append(Passage(passage.index, clipped, passage.score))
        remaining -= len(clipped)
    kept = "".join(passage.text for passage in sorted(chosen, key=lambda p: p.index))
    return f"{title}\n{kept}" if title else kept


@lru_cache(maxsize=1)
def catalog_keywords() -> tuple[str, ...]:
    """The packaged responsibility catalog's keywords, which mark the sentence naming the matter."""
    from linli.catalog import load_catalog

    return tuple(sorted({keyword for entry in load_catalog().entries for keyword in entry.keywords}))


def reading_texts(texts: Sequence[str]) -> list[str]:
    """`request_passages` of every text, sentences scored with the catalog's keywords (loaded only for a long text:
    short ones pass through)."""
    if all(len(text) <= LONG_TEXT_CHARS for text in texts):
        return list(texts)
    keywords = catalog_keywords()
    return [request_passages(text, keywords=keywords) for text in texts]
