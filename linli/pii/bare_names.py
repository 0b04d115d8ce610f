"""Finds bare personal names, with no honorific or keyword beside them: 张伟昨天又把车停在..., 已联系李建华.

A candidate is a surname followed by one or two given-name characters. jieba's tagged dictionary decides the rest:
the candidate must not be an ordinary word (周末, 方便, 金额, 王府井, 向日葵) nor start inside one (对方, 由于),
and what follows must be what follows a person, a verb, an adverb, a preposition, a time or a title (张伟昨天,
何建国占用, 李建华师傅). Known places and organisations (万科物业, 长宁路, 徐家汇派出所) never hold a name.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Final

from linli.pii.surnames import (
    BARE_NAME_SURNAMES,
    COMPOUND_SURNAMES,
    GIVEN_NAME_CHARS,
    NOT_IN_GIVEN_NAME,
    SURNAME_WORDS,
)

# jieba's tags for people (nr; nrfg and nrt are its full names and transliterations).
_PERSON_TAGS: Final = frozenset({"nr", "nrfg", "nrt"})
# Tags of words that follow a person's name: verbs, adverbs, prepositions, conjunctions, particles, pronouns, times.
_FOLLOWER_TAGS: Final = ("v", "d", "p", "c", "u", "r", "t")
# A dictionary word rarer than this is jieba's noise, not evidence (its dictionary holds many odd bigrams).
_MIN_WORD_FREQUENCY: Final = 20
_MIN_FOLLOWER_FREQUENCY: Final = 50
_MIN_LEFT_WORD_FREQUENCY: Final = 5  # 施工方中午: a word ending in a surname character needs little evidence
_MIN_PREFIX_WORD_FREQUENCY: Final = 100  # 张贴通知, but 吴国栋 (吴国 is a place) and 欧阳建国
_MIN_COMMON_NR_FREQUENCY: Final = 600
_CJK: Final = re.compile(r"[\u4e00-\u9fff]")
_CANDIDATE_START: Final = re.compile("(?=" + "|".join(COMPOUND_SURNAMES) + f"|[{BARE_NAME_SURNAMES}])")
# 栋 stays out of a name after a number (3栋), but 吴国栋 is a name.
_NOT_IN_BARE_GIVEN_NAME: Final = frozenset(NOT_IN_GIVEN_NAME) - {"栋"}
# Characters that end a name in text: particles and verbs too short or too common to rely on the dictionary's tags.
_FOLLOWING_CHARS: Final = frozenset("说的在是和跟也又把被给对等不都就还已要反投称讲问找让请帮家从每经总最打来去到住多这那他她很太将会能可曾与及同两")
_TITLES: Final = re.compile(
    "师傅|先生|女士|小姐|老师|阿姨|大爷|大妈|大姐|大哥|大叔|奶奶|爷爷|同志|经理|主任|书记|医生|律师|警官|夫妇|一家|等人"
)
# Everyday words that jieba's dictionary tags as names (胡同/nr, 陈设/nr): never a name here.
_ORDINARY_WORDS_TAGGED_AS_NAMES: Final = frozenset(
    "胡同 陈设 陈旧 宁可 李子 向阳 方正 高德 林荫道 王府井 张家 马家 龙头 黄金 白云 江山 金山 石门 华灯 路人".split()
    + SURNAME_WORDS.split("|")
)
# Verbs and nouns jieba tags otherwise (上门/ns, 核实/n, 联系/n) that workers write right after a name.
_FOLLOWING_WORDS: Final = frozenset("上门 核实 联系 协商 沟通 到场 本人 夫妻 两口子 一起 负责 签字 签收 现场 家属".split())
# Places and organisations whose names start like a person's and may be followed by a verb: never a name.
_KNOWN_PLACES: Final = re.compile(
    "万科|华润|龙湖|保利|绿城|碧桂园|金地|中海|万达|恒大|融创|招商|世茂|苏宁|京东|顺丰|高德|方正|国美|永辉|"
    "王府井|徐家汇|陆家嘴|张江|曹杨|金桥|田林|龙华|周浦|高桥|江湾|罗店|杨浦|黄浦|闵行|宝山|金山|松江|青浦|奉贤|崇明|"
    "长宁|静安|普陀|虹口|徐汇|浦东|嘉定|龙阳|石门|向阳|东方明珠|白云|黄山|黄河|长江|珠江|钱塘"
)
# A place character ends 孙桥镇, 王家庄: not the last character of a three-character name.
_PLACE_ENDINGS: Final = frozenset("镇村乡庄桥湾港浜园苑寨屯")


@dataclass(frozen=True)
class _Lexicon:
    """The parts of jieba's dictionary the rules consult: frequency and tag of surname words, and follower words."""

    words: dict[str, tuple[int, str]]
    followers: frozenset[str]


_lexicon: _Lexicon | None = None
_lexicon_lock: Final = threading.Lock()


def _load_lexicon() -> _Lexicon:
    """Reads jieba's dictionary once (about half a second) and keeps only what the rules consult."""
    global _lexicon
    with _lexicon_lock:
        if _lexicon is None:
            import jieba

            surnames = set(BARE_NAME_SURNAMES) | {compound[0] for compound in COMPOUND_SURNAMES}
            words: dict[str, tuple[int, str]] = {}
            followers: set[str] = set()
            with jieba.dt.get_dict_file() as lines:
                for line in lines:
                    word, frequency_text, tag = line.decode("utf-8").split()
                    frequency = int(frequency_text)
                    if 2 <= len(word) <= 5 and (word[0] in surnames or word[-1] in surnames):
                        words[word] = (frequency, tag)
                    if len(word) <= 2 and frequency >= _MIN_FOLLOWER_FREQUENCY and tag.startswith(_FOLLOWER_TAGS):
                        followers.add(word)
            _lexicon = _Lexicon(words=words, followers=frozenset(followers))
        return _lexicon


def _is_ordinary_word(lexicon: _Lexicon, word: str, *, min_frequency: int = _MIN_WORD_FREQUENCY) -> bool:
    """A dictionary word that is not a person's name (周末, 方便, 王府井), or one jieba tags wrongly as a name.

    jieba tags many everyday two-character words nr (齐全, 叶子, 高峰); its real names are rarer (李娜 438).
    """
    if word in _ORDINARY_WORDS_TAGGED_AS_NAMES:
        return True
    frequency, tag = lexicon.words.get(word, (0, ""))
    if tag == "nr" and len(word) == 2:
        return frequency >= _MIN_COMMON_NR_FREQUENCY
    return frequency >= min_frequency and tag not in _PERSON_TAGS


def _inside_a_word(lexicon: _Lexicon, text: str, start: int) -> bool:
    """The surname at `start` ends an ordinary word that began before it (对方, 由于, 照顾, 历史)."""
    return any(
        _is_ordinary_word(lexicon, text[begin : start + 1], min_frequency=_MIN_LEFT_WORD_FREQUENCY)
        for begin in range(max(0, start - 2), start)
    )


def _starts_a_word(lexicon: _Lexicon, text: str, start: int, end: int, surname_length: int) -> bool:
    """An ordinary word starts at `start` and reaches `end` or beyond (周末, 王府井, 东方明珠), or a frequent one
    ends inside the candidate (张贴通知); a place (吴国栋) or the compound surname itself (欧阳建国) does not count."""
    for stop in range(start + surname_length + 1, min(len(text), start + 5) + 1):
        word = text[start:stop]
        if stop >= end and _is_ordinary_word(lexicon, word):
            return True
        if stop < end and lexicon.words.get(word, (0, "ns"))[1] != "ns":
            if _is_ordinary_word(lexicon, word, min_frequency=_MIN_PREFIX_WORD_FREQUENCY):
                return True
    return False


def _follows_a_name(lexicon: _Lexicon, text: str, end: int) -> bool:
    """What comes after `end` can follow a person: the end, punctuation, a particle, verb, adverb, time or title."""
    if end >= len(text) or not _CJK.match(text, end) or text[end] in _FOLLOWING_CHARS:
        return True
    if _TITLES.match(text, end):
        return True
    following = text[end : end + 2]
    return following in lexicon.followers or following in _FOLLOWING_WORDS or text[end] in lexicon.followers


def _given_name_fits(given: str) -> bool:
    """One or two characters that can be a given name: no particle or numeral, at least one usual name character."""
    if not all(_CJK.match(char) and char not in _NOT_IN_BARE_GIVEN_NAME for char in given):
        return False
    if len(given) == 2 and given[-1] in _PLACE_ENDINGS:
        return False
    return any(char in GIVEN_NAME_CHARS for char in given)


def _name_at(lexicon: _Lexicon, text: str, start: int) -> int | None:
    """The end of a bare name starting at `start`, or None; a three-character name is preferred to its prefix."""
    surname_length = 2 if text[start : start + 2] in COMPOUND_SURNAMES else 1
    if surname_length == 1 and _inside_a_word(lexicon, text, start):
        return None
    for given_length in (2, 1):
        end = start + surname_length + given_length
        if end > len(text) or not _given_name_fits(text[start + surname_length : end]):
            continue
        if not _follows_a_name(lexicon, text, end):
            continue
        if _starts_a_word(lexicon, text, start, end, surname_length):
            return None
        return end
    return None


def find_bare_names(text: str) -> list[tuple[int, int]]:
    """The [start, end) spans of bare personal names in a text, in order and not overlapping."""
    lexicon = _lexicon or _load_lexicon()
    places = [match.span() for match in _KNOWN_PLACES.finditer(text)]
    spans: list[tuple[int, int]] = []
    covered_until = 0
    for match in _CANDIDATE_START.finditer(text):
        start = match.start()
        if start < covered_until or any(begin <= start < stop for begin, stop in places):
            continue
        end = _name_at(lexicon, text, start)
        if end is not None:
            spans.append((start, end))
            covered_until = end
    return spans
