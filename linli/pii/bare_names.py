"""Finds bare personal names, with no honorific or keyword beside them: 张伟昨天又把车停在..., 已联系李建华.

A candidate is a surname followed by one or two given-name characters. jieba's tagged dictionary decides the rest:
the candidate must not be an ordinary word (周末, 方便, 金额, 王府井, 向日葵) nor start inside one (对方, 由于),
and what follows must be what follows a person, a verb, an adverb, a preposition, a time or a title (张伟昨天,
何建国占用, 李建华师傅). Known places and organisations (万科物业, 长宁路, 徐家汇派出所) never hold a name.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from linli.pii.surnames import (
    BARE_NAME_SURNAMES,
    COMPOUND_SURNAMES,
    GIVEN_NAME_CHARS,
    NOT_IN_GIVEN_NAME,
    SURNAME_WORDS,
)

if TYPE_CHECKING:
    from jieba import Tokenizer

# jieba's tags for people (nr; nrfg and nrt are its full names and transliterations).
_PERSON_TAGS: Final = frozenset({"nr", "nrfg", "nrt"})
_FULL_NAME_TAGS: Final = frozenset({"nrfg", "nrt"})
# Tags of words that follow a person's name: verbs, adverbs, prepositions, conjunctions, particles, pronouns, times.
_FOLLOWER_TAGS: Final = ("v", "d", "p", "c", "u", "r", "t")
# A dictionary word rarer than this is jieba's noise, not evidence (its dictionary holds many odd bigrams).
_MIN_WORD_FREQUENCY: Final = 20
_MIN_FOLLOWER_FREQUENCY: Final = 50
_MIN_PREFIX_WORD_FREQUENCY: Final = 100  # 张贴通知, but 吴国栋 (吴国 is a place) and 欧阳建国
_MIN_COMMON_NR_FREQUENCY: Final = 300  # 钱财 337, 白石 556, 齐全 1417; a name in jieba's dictionary is rarer
_MIN_IDIOM_FREQUENCY: Final = 5  # 张冠李戴 25
_MIN_CROSSING_FREQUENCY: Final = 100  # 国家, 明天, 水平
_CJK: Final = re.compile(r"[\u4e00-\u9fff]")
_CANDIDATE_START: Final = re.compile("(?=" + "|".join(COMPOUND_SURNAMES) + f"|[{BARE_NAME_SURNAMES}])")
# Characters that occur in given names although they end one elsewhere: 吴国栋 (3栋), 靳东来, 祁同伟, 佟大为,
# 臧天朔, 杨一帆, 郁可唯, 伊能静. As a name's last character they give way to a word they start (张伟来了).
_WORD_STARTING_NAME_CHARS: Final = frozenset("栋来同为天一可能")
_ASPECT_PARTICLES: Final = frozenset("了过着")
_NOT_IN_BARE_GIVEN_NAME: Final = frozenset(NOT_IN_GIVEN_NAME) - _WORD_STARTING_NAME_CHARS
_NUMERALS: Final = frozenset("0123456789一二三四五六七八九十百千万两几")
# Characters that end a name in text: particles and verbs too short or too common to rely on the dictionary's tags.
_FOLLOWING_CHARS: Final = frozenset(
    "说的在是和跟也又把被给对等不都就还已要反投称讲问找让请帮家从每经总最打来去到住多这那他她很太将会能可曾与及同两"
)
_TITLES: Final = re.compile(
    "师傅|先生|女士|小姐|老师|阿姨|大爷|大妈|大姐|大哥|大叔|奶奶|爷爷|同志|经理|主任|书记|医生|律师|警官|夫妇|一家|等人"
)
# Everyday words that jieba's dictionary tags as names (胡同/nr, 陈设/nr): never a name here.
_WORDS_TAGGED_AS_NAMES: Final = (
    "胡同|陈设|陈旧|宁可|李子|向阳|方正|高德|林荫道|王府井|张家|马家|龙头|黄金|白云|江山|金山|石门|华灯|路人|丁香"
)
_ORDINARY_WORDS_TAGGED_AS_NAMES: Final = frozenset(f"{_WORDS_TAGGED_AS_NAMES}|{SURNAME_WORDS}".split("|"))
# A word can be a name (金星, 武艺, 宁静) where only a person fits: nouns and adjectives, never times or adverbs.
_NAME_LIKE_WORD_TAGS: Final = frozenset({"n", "nr", "nz", "ns", "a", "an", "nrfg", "nrt"})
_PERSON_ONLY_AFTER: Final = re.compile(
    "说|表示|同意|答应|承诺|反映|投诉|签字|签收|道歉|本人|夫妇|一家|家(?:的|里|门|人|孩|狗|猫)|"
    "已(?:上门|签|联系|拆|清理|同意|承诺|表示|撤|收回|陪同|协调|提醒|督促|赔偿|道歉|劝)"
)
_PERSON_BEFORE: Final = re.compile(
    "(?:联系|通知|告知|告诉|请|让|叫|找|和|与|跟|同|由|经|问|催|给|楼上|楼下|隔壁|对门|邻居|业主|住户|租户|的|、)$"
)
_PERSON_INTRODUCED: Final = re.compile("(?:联系|通知|告知|告诉|提醒|督促|请|让|叫|找|经|由|与|和|跟|同|及|、)$")
_PLACE_SUFFIX: Final = re.compile(
    "中学|小学|学校|幼儿园|医院|物业|公司|集团|广场|大厦|花园|小区|新村|新区|大道|路|街|巷|弄|区|镇|村|桥|城|站|所|局|院|店"
)
# Verbs and nouns jieba tags otherwise (上门/ns, 核实/n, 联系/n) that workers write right after a name.
_FOLLOWING_WORDS: Final = re.compile(
    "上门|核实|联系|协商|沟通|到场|本人|夫妻|两口子|一起|负责|签字|签收|现场|家属|好几|全权|亲自|多次"
)
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
    """What the rules consult in jieba: tags of surname words, follower words, all frequencies, the segmenter."""

    tags: dict[str, str]
    followers: frozenset[str]
    frequencies: Mapping[str, int]
    tokenizer: Tokenizer

    def frequency(self, word: str) -> int:
        """How often jieba's dictionary counts `word`; 0 when it is not a word."""
        return self.frequencies.get(word) or 0

    def token_starts(self, text: str) -> set[int]:
        """Where jieba's dictionary segmentation starts a word (no HMM: unknown names stay single characters)."""
        starts, position = set(), 0
        for token in self.tokenizer.cut(text, HMM=False):
            starts.add(position)
            position += len(token)
        return starts


_lexicon: _Lexicon | None = None
_lexicon_lock: Final = threading.RLock()
_loading: Final = threading.local()


def _load_lexicon() -> _Lexicon | None:
    """Loads jieba's dictionary once per process (about two seconds) and keeps the tags the rules consult.

    None while this thread is loading it: jieba logs through the root logger, whose handlers scrub (linli.logs).
    """
    global _lexicon
    with _lexicon_lock:
        if _lexicon is None and not getattr(_loading, "active", False):
            _loading.active = True
            try:
                _lexicon = _read_lexicon()
            finally:
                _loading.active = False
        return _lexicon


def _read_lexicon() -> _Lexicon:
    import jieba

    jieba.setLogLevel(logging.WARNING)  # jieba logs its dictionary loading at DEBUG
    jieba.dt.initialize()
    surnames = set(BARE_NAME_SURNAMES) | {compound[0] for compound in COMPOUND_SURNAMES}
    tags: dict[str, str] = {}
    followers: set[str] = set()
    with jieba.dt.get_dict_file() as lines:
        for line in lines:
            word, frequency, tag = line.decode("utf-8").split()
            if 2 <= len(word) <= 5 and word[0] in surnames:
                tags[word] = tag
            if len(word) <= 4 and int(frequency) >= _MIN_FOLLOWER_FREQUENCY and tag.startswith(_FOLLOWER_TAGS):
                followers.add(word)
    return _Lexicon(tags, frozenset(followers), jieba.dt.FREQ, jieba.dt)


def preload() -> None:
    """Loads jieba's dictionary now rather than on the first text (a service can call this at start)."""
    _load_lexicon()


def _is_ordinary_word(lexicon: _Lexicon, word: str, *, min_frequency: int = _MIN_WORD_FREQUENCY) -> bool:
    """A dictionary word starting with a surname that is not a person's name: 周末, 方便, 王府井, 张冠李戴.

    jieba's dictionary tags most words that start with a surname nr (齐全, 钱财, 高水平), real names among them
    (李娜, 吴国栋): a frequent two-character word is ordinary whatever its tag, a longer one unless tagged a name.
    """
    if word in _ORDINARY_WORDS_TAGGED_AS_NAMES:
        return True
    frequency, tag = lexicon.frequency(word), lexicon.tags.get(word, "")
    if len(word) >= 4:
        return frequency >= _MIN_IDIOM_FREQUENCY
    if len(word) == 2 and tag not in _FULL_NAME_TAGS and frequency >= _MIN_COMMON_NR_FREQUENCY:
        return True
    return frequency >= min_frequency and tag not in _PERSON_TAGS


def _starts_a_word(lexicon: _Lexicon, text: str, start: int, end: int, surname_length: int) -> bool:
    """An ordinary word starts at `start` and reaches `end` or beyond (周末, 王府井, 东方明珠), or a frequent one
    ends inside the candidate (张贴通知, 钱包掉); a place (吴国栋), the compound surname itself (欧阳建国) or a
    word of usual name characters (黄金凤, 桂林生) does not count."""
    name_like = all(char in GIVEN_NAME_CHARS for char in text[start + surname_length : end])
    for stop in range(start + surname_length + 1, min(len(text), start + 5) + 1):
        word = text[start:stop]
        if stop >= end and _is_ordinary_word(lexicon, word):
            return True
        inside = stop < end and not name_like and lexicon.tags.get(word, "ns") != "ns"
        if inside and _is_ordinary_word(lexicon, word, min_frequency=_MIN_PREFIX_WORD_FREQUENCY):
            return True
    return False


def _follows_a_name(lexicon: _Lexicon, text: str, end: int) -> bool:
    """What comes after `end` can follow a person: the end, punctuation, a particle, verb, adverb, time or title."""
    if end >= len(text) or not _CJK.match(text, end) or text[end] in _FOLLOWING_CHARS:
        return True
    if _TITLES.match(text, end) or _FOLLOWING_WORDS.match(text, end):
        return True
    return any(text[end:stop] in lexicon.followers for stop in range(end + 1, min(len(text), end + 4) + 1))


def _given_name_fits(lexicon: _Lexicon, text: str, given_start: int, end: int) -> bool:
    """Characters that can be a given name: no particle, and usual name characters where words compete.

    A two-character name's given character is a usual one (not 子: 孙子, 燕子) that starts no word with what
    follows (向国家, 李明天) and is no place (唐镇); a three-character name needs one usual character (not
    冷凝水, 胡桃树), both when its given part is itself a word (王建国, 李海燕, but not 高水平, 向学生, 万居民).
    """
    given = text[given_start:end]
    if len(given) < end - given_start or not all(
        _CJK.match(char) and char not in _NOT_IN_BARE_GIVEN_NAME for char in given
    ):
        return False
    if given[-1] in _PLACE_ENDINGS:
        return False
    usual = [char in GIVEN_NAME_CHARS for char in given]
    if len(given) == 1:
        return usual[0] and given != "子" and lexicon.frequency(given + text[end : end + 1]) < _MIN_CROSSING_FREQUENCY
    if lexicon.frequency(given) >= _MIN_CROSSING_FREQUENCY:
        return all(usual)
    return any(usual)


def _given_lengths(lexicon: _Lexicon, text: str, given_start: int) -> tuple[int, int]:
    """Which given-name length to try first: two, unless the second character starts a word (张伟来了, 李强一家)."""
    second = given_start + 1
    if text[second : second + 1] in _WORD_STARTING_NAME_CHARS:
        # An aspect particle makes it a verb too: 马丽来过, 张伟来了 (neither is in jieba's dictionary).
        if text[second + 1 : second + 2] in _ASPECT_PARTICLES:
            return (1, 2)
        if lexicon.frequency(text[second : second + 2]) >= _MIN_CROSSING_FREQUENCY:
            return (1, 2)
    return (2, 1)


def _word_used_as_name(lexicon: _Lexicon, text: str, start: int, end: int) -> bool:
    """A two-character name that is also a word (金星, 武艺, 蓝天) where only a person fits: introduced like one
    (已联系, 和, 楼上的, or a clause start) and doing what only people do (说, 同意, 家的, 已上门)."""
    word = text[start:end]
    if word in _ORDINARY_WORDS_TAGGED_AS_NAMES or lexicon.tags.get(word, "") not in _NAME_LIKE_WORD_TAGS:
        return False
    if not _PERSON_ONLY_AFTER.match(text, end):
        return False
    return (
        start == 0
        or not _CJK.match(text, start - 1)
        or _PERSON_BEFORE.search(text, max(0, start - 2), start) is not None
    )


def _introduced_as_person(text: str, start: int, surname_length: int, end: int) -> bool:
    """Only a person fits after 联系, 通知, 和: a name of usual characters needs no verb after it (联系李建华挪车)."""
    if not all(char in GIVEN_NAME_CHARS for char in text[start + surname_length : end]):
        return False
    if _PLACE_SUFFIX.match(text, end - 1) or _PLACE_SUFFIX.match(text, end):
        return False  # 和黄花中学, 与黄星路, 由华天物业
    return _PERSON_INTRODUCED.search(text, max(0, start - 2), start) is not None


def _name_at(lexicon: _Lexicon, text: str, start: int) -> int | None:
    """The end of a bare name starting at `start`, or None; a three-character name is preferred to its prefix."""
    surname_length = 2 if text[start : start + 2] in COMPOUND_SURNAMES else 1
    for given_length in _given_lengths(lexicon, text, start + surname_length):
        end = start + surname_length + given_length
        if end > len(text) or not _given_name_fits(lexicon, text, start + surname_length, end):
            continue
        if not _follows_a_name(lexicon, text, end) and not _introduced_as_person(text, start, surname_length, end):
            continue
        if _starts_a_word(lexicon, text, start, end, surname_length):
            return end if given_length == 1 and _word_used_as_name(lexicon, text, start, end) else None
        return end
    return None


def find_bare_names(text: str) -> list[tuple[int, int]]:
    """The [start, end) spans of bare personal names in a text, in order and not overlapping."""
    lexicon = _lexicon or _load_lexicon()
    if lexicon is None:
        return []
    places = [match.span() for match in _KNOWN_PLACES.finditer(text)]
    token_starts: set[int] | None = None
    spans: list[tuple[int, int]] = []
    covered_until = 0
    for match in _CANDIDATE_START.finditer(text):
        start = match.start()
        if start < covered_until or any(begin <= start < stop for begin, stop in places):
            continue
        if start and text[start - 1] in _NUMERALS:
            continue  # a unit after a number: 3米宽, 两万居民
        end = _name_at(lexicon, text, start)
        if end is None:
            continue
        # Segmenting costs more than the rules, so only texts with a candidate pay for it: a surname inside a
        # word that began before it (对方, 由于, 后顾之忧, 断章取义) starts no name.
        token_starts = token_starts if token_starts is not None else lexicon.token_starts(text)
        if start in token_starts:
            spans.append((start, end))
            covered_until = end
    return spans
