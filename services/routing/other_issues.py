"""一单多事: the further problems one message raises, each for another catalog entry than the decision's.

City hotlines split "楼道灯坏了好几天了,另外小区门口总有车停在消防通道上" into one order per problem. The message is
cut into passages at sentence ends and at connectives that open another matter (另外, 还有, 其次, "2、" ...); each
passage is scored against the catalog with the keyword matcher (cheap: no embedding), and a passage that clearly
names another entry than the decision's becomes an OtherIssue. A one-problem complaint usually says its problem
several ways and mentions others in passing ("物业费一分不少交"), so the rules lean to precision; the thresholds
were chosen on the training split (`python -m bench.multi_issue --split train`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from linli.catalog import Catalog, CatalogEntry

# Strongest first, at most this many: a hotline splits a message into a handful of orders, not a dozen.
MAX_OTHER_ISSUES = 3
# A passage with fewer topic characters than this ("谢谢!", "急死了") cannot state a problem and joins a neighbour;
# "楼道很脏" can (on the training split 4 lost no precision against 5 or 6 and found a few more problems).
MIN_PASSAGE_CHARS = 4
# Only passages that start within this many characters of passage text are matched: every passage costs a catalog
# match (~60 µs), so a 2,000-character message of 66 sentences would take 5.5 ms; the catalog matcher reads the
# first 400 characters of a whole message for the same reason. The longest corpus message has 210.
MAX_SCANNED_CHARS = 400

_SENTENCE_END = "。！？!?；;\n"
_LEADING_NOISE = " \t\r\n，,、：:；;。！？!?…~～"
_TRAILING_NOISE = " \t\r\n，,、：:"
# Connectives that open another matter wherever they stand ("灯坏了另外,门口..."), and two that do so only at the
# start of a clause: mid-clause "还有人在睡觉" and "同时调整了" go on about the same matter.
_ANYWHERE = r"另外|此外|再有|再就是|顺便|顺带|其次|二是|三是|再一个|另一个问题"
_CLAUSE_START = r"(?:^|(?<=[，,、\s]))(?:还有|同时)"
# Enumerations of a second or later point: "第二,", "第二点", "2、", "2.", "(2)", "②"; never "第二天" or "2.5米".
_ENUMERATION = (
    r"第[二三四五][,，、:：点个是件条]|(?<![0-9.])[2-9](?:[、)）]|\.(?![0-9]))|[(（][2-9二三四五][)）]|[②③④⑤]"
)
_BREAK = re.compile(rf"[{_SENTENCE_END}]+|(?={_ANYWHERE}|{_CLAUSE_START}|{_ENUMERATION})")
_OPENER = re.compile(rf"{_ANYWHERE}|还有|同时|{_ENUMERATION}")
_TOPIC_CHARS = re.compile(r"[0-9A-Za-z\u3400-\u9fff]")


@dataclass(frozen=True)
class Bar:
    """How clearly a passage must name an entry (Catalog.match score on the passage) to raise it as a problem.

    Attributes:
        min_score: for an entry of another party than the main entry's.
        min_score_same_party: for a sibling of the main entry: one problem told several ways drifts between
            neighbouring entries of one party far more often than between parties.
        min_score_without_keyword: when the passage holds none of the entry's keywords; a high score from phrasing
            fragments alone is often chance ("我怕到时候说不清楚" scores 0.74 for the public-revenue entry).
    """

    min_score: float
    min_score_same_party: float
    min_score_without_keyword: float


@dataclass(frozen=True)
class DetectionRules:
    """When a passage raises another problem; the defaults were chosen on the training split only.

    Attributes:
        after_connective: the bar for a passage that opens with a connective or an enumeration (另外, 还有, 2、):
            the resident announced another matter.
        plain_sentence: the bar for any other passage, much higher: later sentences of a one-problem complaint
            often mention other topics as context ("物业说要动用维修资金").
        min_margin: the passage's entry must beat the main entry, scored on the same passage, by this much: a
            passage that also reads as the main problem is that problem.
    """

    after_connective: Bar = Bar(min_score=0.5, min_score_same_party=0.7, min_score_without_keyword=0.8)
    plain_sentence: Bar = Bar(min_score=0.9, min_score_same_party=0.95, min_score_without_keyword=0.95)
    min_margin: float = 0.4


DEFAULT_RULES = DetectionRules()


@dataclass(frozen=True)
class Passage:
    """A stretch of the message as the resident wrote it (trimmed), and whether it opens with a connective."""

    excerpt: str
    after_connective: bool


@dataclass(frozen=True)
class OtherIssueFinding:
    """A further problem: the catalog entry, its match score on the passage, and the passage that raises it
    (without its opening connective)."""

    entry: CatalogEntry
    score: float
    excerpt: str


def split_passages(text: str) -> list[Passage]:
    """The message cut at sentence ends and at connectives opening another matter; short pieces join a neighbour."""
    pieces: list[tuple[int, int]] = []
    start = 0
    for cut in _BREAK.finditer(text):
        if cut.start() > start:
            pieces.append((start, cut.start()))
        start = max(start, cut.end())
    if start < len(text):
        pieces.append((start, len(text)))
    merged: list[tuple[int, int]] = []
    for begin, end in pieces:
        if merged and min(_topic_chars(text, *merged[-1]), _topic_chars(text, begin, end)) < MIN_PASSAGE_CHARS:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((begin, end))
    passages = (_passage(text, begin, end) for begin, end in merged)
    return [passage for passage in passages if passage.excerpt]


def find_other_issues(
    text: str,
    catalog: Catalog,
    main: CatalogEntry | None,
    *,
    rules: DetectionRules = DEFAULT_RULES,
    limit: int = MAX_OTHER_ISSUES,
) -> list[OtherIssueFinding]:
    """The problems `text` raises besides its main one, strongest first, one per entry, at most `limit`.

    Args:
        text: the whole message.
        catalog: the responsibility catalog the decision's entry comes from.
        main: the decision's entry (for an abstained decision, the entry the router would have chosen), or None
            when the decision rests on no entry: the first passage's best entry is then taken as the main one.
        rules: the thresholds (see DetectionRules).
        limit: the most findings returned.
    """
    passages = _first_passages(split_passages(text), MAX_SCANNED_CHARS)
    if len(passages) < 2:
        return []
    ranked = [catalog.match(passage.excerpt, limit=len(catalog.entries)) for passage in passages]
    # The passage that reads most like the main problem states it, whatever else it matches; without a main
    # entry, the subject of a complaint is in its first sentences.
    if main is None:
        anchor, main = 0, (ranked[0][0][0] if ranked[0] else None)
    else:
        anchor = max(range(len(passages)), key=lambda i: _score_of(main, ranked[i]))
    found: dict[str, OtherIssueFinding] = {}
    for index, (passage, matches) in enumerate(zip(passages, ranked, strict=True)):
        if index == anchor or not matches:
            continue
        entry, score = matches[0]
        if not _raises_another(catalog, passage, entry, score, matches, main, rules):
            continue
        if entry.id not in found or found[entry.id].score < score:
            found[entry.id] = OtherIssueFinding(entry, score, without_opener(passage.excerpt))
    return sorted(found.values(), key=lambda finding: -finding.score)[:limit]


def without_opener(excerpt: str) -> str:
    """The passage as a ticket of its own would say it: without the 另外, 还有 or "2、" that tied it to the message."""
    opener = _OPENER.match(excerpt)
    if opener is None:
        return excerpt
    return excerpt[opener.end() :].lstrip(_LEADING_NOISE) or excerpt


def _raises_another(
    catalog: Catalog,
    passage: Passage,
    entry: CatalogEntry,
    score: float,
    matches: Sequence[tuple[CatalogEntry, float]],
    main: CatalogEntry | None,
    rules: DetectionRules,
) -> bool:
    """Whether the passage's best entry is another problem than `main`, named clearly enough."""
    if main is not None and entry.id == main.id:
        return False
    bar = rules.after_connective if passage.after_connective else rules.plain_sentence
    same_party = main is not None and entry.party == main.party
    if score < (bar.min_score_same_party if same_party else bar.min_score):
        return False
    if main is not None and score - _score_of(main, matches) < rules.min_margin:
        return False
    return score >= bar.min_score_without_keyword or bool(catalog.keywords_in(passage.excerpt, entry))


def _score_of(entry: CatalogEntry, matches: Sequence[tuple[CatalogEntry, float]]) -> float:
    return next((score for candidate, score in matches if candidate.id == entry.id), 0.0)


def _first_passages(passages: list[Passage], chars: int) -> list[Passage]:
    kept, seen = [], 0
    for passage in passages:
        if seen >= chars:
            break
        kept.append(passage)
        seen += len(passage.excerpt)
    return kept


def _topic_chars(text: str, begin: int, end: int) -> int:
    return len(_TOPIC_CHARS.findall(text, begin, end))


def _passage(text: str, begin: int, end: int) -> Passage:
    while begin < end and text[begin] in _LEADING_NOISE:
        begin += 1
    while end > begin and text[end - 1] in _TRAILING_NOISE:
        end -= 1
    excerpt = text[begin:end]
    return Passage(excerpt, bool(_OPENER.match(excerpt)))
