"""Matching a complaint's text to catalog entries by shared keywords and phrasing fragments (an explainable signal)."""

from __future__ import annotations

import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Sequence

from linli.catalog.records import CatalogEntry

# Particles carry no topic and vary freely between "楼道的灯坏了" and "楼道灯坏", so both sides drop them.
_FILLERS = frozenset("的了吗呢啊吧呀嘛啦哦么")
_WORD_RUNS = re.compile(r"[0-9a-z\u3400-\u9fff]+")
_MAX_GRAM = 8
# A shared bigram is weak evidence (many are generic, "问题", "一直"); three characters in a row rarely are.
_BIGRAM_WEIGHT = 0.5
# Colloquial boilerplate that any complaint may carry ("怎么还没人来", "到底管不管"): the catalog alone is too small
# to learn that these are generic, so fragments inside them weigh nothing.
# Space-separated; normalise turns the spaces into fragment boundaries.
_BOILERPLATE = (
    "怎么办 怎么回事 怎么还 为什么 什么时候 有没有 能不能 可不可以 要不要 管不管 "
    "没人管 没人来 没人修 没人清 没人理 不理 还没人 一直 我想 我要 天气 好几天 好几个 "
    "天天 每天 到底 根本 已经 现在 尽快 麻烦 处理 解决 反映 投诉 问题 请问 谢谢 "
    "你们 我们 我家 大家 一下 太不 说了也不听"
)
# A keyword is a curated, distinctive term: it counts more than the same characters inside a phrasing.
_KEYWORD_WEIGHT = 1.5
# Evidence (roughly: specific characters explained) that maps to a score of 1 - 1/e ≈ 0.63.
_EVIDENCE_SCALE = 3.0
_MIN_SCORE = 0.05
# The subject of a complaint is in its first sentences; a cap keeps a 2,000-character text fast.
_MAX_TEXT_CHARS = 400


def normalise(text: str) -> str:
    """Lower-cased NFKC word runs without particles, joined by '|' so no fragment spans a punctuation mark."""
    folded = unicodedata.normalize("NFKC", text).lower()
    runs = ("".join(char for char in run if char not in _FILLERS) for run in _WORD_RUNS.findall(folded))
    return "|".join(run for run in runs if run)


class Matcher:
    """An index of every 2..8-character fragment of each entry's name, phrasings and keywords.

    A fragment's weight is its inverse entry frequency scaled to [0, 1] (1 = only one entry uses it), so text that
    shares long, rare fragments with an entry is strong evidence for it and shared generic words are not.
    """

    def __init__(self, entries: Sequence[CatalogEntry]) -> None:
        holders: dict[str, set[int]] = defaultdict(set)
        for index, entry in enumerate(entries):
            for text in (entry.name, *entry.phrasings, *entry.keywords):
                for run in normalise(text).split("|"):
                    for start in range(len(run) - 1):
                        for end in range(start + 2, min(start + _MAX_GRAM, len(run)) + 1):
                            holders[run[start:end]].add(index)
        log_total = math.log(len(entries) + 1)
        generic = normalise(_BOILERPLATE)

        def specificity(fragment: str) -> float:
            if fragment in generic:
                return 0.0
            return math.log((len(entries) + 1) / len(holders[fragment])) / log_total

        self._fragments = {fragment: (tuple(sorted(ids)), specificity(fragment)) for fragment, ids in holders.items()}
        # Keywords up to the fragment length are found by the fragment scan; longer ones by a plain search.
        keyword_holders: dict[str, list[tuple[int, float]]] = defaultdict(list)
        self._long_keywords: list[tuple[str, int, float]] = []
        for index, entry in enumerate(entries):
            for keyword in dict.fromkeys(map(normalise, entry.keywords)):
                weight = specificity(keyword[:_MAX_GRAM])
                if len(keyword) <= _MAX_GRAM:
                    keyword_holders[keyword].append((index, weight))
                else:
                    self._long_keywords.append((keyword, index, weight))
        self._keywords = {keyword: tuple(found) for keyword, found in keyword_holders.items()}

    def rank(self, text: str, limit: int) -> list[tuple[int, float]]:
        """(entry index, score) of the best `limit` entries with any evidence, best first."""
        normal = normalise(text[:_MAX_TEXT_CHARS])
        coverage, keywords = self._scan(normal)
        for keyword, index, weight in self._long_keywords:
            if keyword in normal:
                keywords[index][keyword] = weight
        evidence = {index: sum(cells) for index, cells in coverage.items()}
        for index, found in keywords.items():
            # A keyword inside a longer one that also matched ("充电桩" in "充电桩坏") adds nothing new.
            evidence[index] = evidence.get(index, 0.0) + _KEYWORD_WEIGHT * sum(
                len(keyword) * weight
                for keyword, weight in found.items()
                if not any(keyword != other and keyword in other for other in found)
            )
        scored = [(index, 1.0 - math.exp(-mass / _EVIDENCE_SCALE)) for index, mass in evidence.items()]
        ranked = sorted((item for item in scored if item[1] >= _MIN_SCORE), key=lambda item: (-item[1], item[0]))
        return ranked[:limit]

    def _scan(self, normal: str) -> tuple[dict[int, list[float]], defaultdict[int, dict[str, float]]]:
        """Per entry: each text character's weight (that of the most specific shared fragment covering it), and
        the keywords found in the text."""
        coverage: dict[int, list[float]] = {}
        keywords: defaultdict[int, dict[str, float]] = defaultdict(dict)
        for start in range(len(normal) - 1):
            # Every entry holding a fragment holds its prefixes, so the first miss ends the search, and per entry
            # the longest fragment from here is also its most specific.
            longest: dict[int, tuple[int, float]] = {}
            for end in range(start + 2, min(start + _MAX_GRAM, len(normal)) + 1):
                fragment = normal[start:end]
                found = self._fragments.get(fragment)
                if found is None:
                    break
                for index, weight in self._keywords.get(fragment, ()):
                    keywords[index][fragment] = weight
                holders, specificity = found
                if specificity == 0.0:
                    continue
                weight = specificity * (_BIGRAM_WEIGHT if end - start == 2 else 1.0)
                for index in holders:
                    longest[index] = (end, weight)
            for index, (end, weight) in longest.items():
                cells = coverage.setdefault(index, [0.0] * len(normal))
                for position in range(start, end):
                    if cells[position] < weight:
                        cells[position] = weight
        return coverage, keywords
