"""Finds complaints that describe danger now (gas, fire, someone trapped in a lift, flooding, ...) and says what to do.

Rules only: precompiled hazard phrasings (grouped by first character) find candidates, and the words around each one
decide whether it is a present danger, a worry ("万一着火怎么办") or no danger at all — negated ("没有泄漏"), past
("上次电梯困人"), resolved ("已经救出来了"), planned ("明天整栋楼停电检修") or a drill ("消防演习"). A complaint
without any hazard word costs a few microseconds.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final, cast

from services.routing.hazards import (
    CLAUSE_END_CHARS,
    GAP,
    HAZARDS,
    SENTENCE_END_CHARS,
    TRIGGERS,
    UrgencyLevel,
)


@dataclass(frozen=True, slots=True)
class UrgencyFinding:
    """A hazard found in a complaint.

    Attributes:
        level: "emergency" (danger to people now: act at once) or "urgent" (needs a person the same day).
        hazard: Stable hazard id, one of `HAZARD_IDS`, e.g. "gas_leak".
        notice: What to do now and whom to call, in Chinese, for the resident and the grid worker.
        evidence: The words of the complaint that were matched.
    """

    level: UrgencyLevel
    hazard: str
    notice: str
    evidence: str


_SENTENCE_BREAKS: Final = frozenset(SENTENCE_END_CHARS)
_CLAUSE_BREAKS: Final = frozenset(CLAUSE_END_CHARS)
_CLAUSE_REACH: Final = 24
_SENTENCE_REACH: Final = 60


def _leading_characters(pattern: str) -> set[str]:
    """The characters a match of `pattern` can start with.

    Understands the forms the trigger table uses: alternatives, leading lookarounds, non-capturing groups and
    literal characters. Anything else (a class, an escape, an optional first item) raises ValueError at import,
    so a new trigger can never be silently skipped by the dispatch built from this.
    """
    leads: set[str] = set()
    for alternative in _top_level_alternatives(pattern):
        rest = alternative
        while rest.startswith(("(?<!", "(?<=", "(?!", "(?=")):
            rest = rest[_closing_paren(rest) + 1 :]
        if rest.startswith("(?:"):
            end = _closing_paren(rest)
            if rest[end + 1 : end + 2] in ("?", "*", "{"):
                raise ValueError(f"trigger {alternative!r} starts with an optional group")
            leads |= _leading_characters(rest[3:end])
        elif not rest or rest[0] in "([\\.^$|" or rest[1:2] in ("?", "*", "{"):
            raise ValueError(f"trigger {alternative!r} does not start with a literal character")
        else:
            leads.add(rest[0])
    return leads


def _top_level_alternatives(pattern: str) -> list[str]:
    alternatives, depth, start = [], 0, 0
    for index, char in enumerate(pattern):
        depth += (char in "([") - (char in ")]")
        if char == "|" and depth == 0:
            alternatives.append(pattern[start:index])
            start = index + 1
    return [*alternatives, pattern[start:]]


def _closing_paren(text: str) -> int:
    depth = 0
    for index, char in enumerate(text):
        depth += (char == "(") - (char == ")")
        if depth == 0:
            return index
    raise ValueError(f"unbalanced parenthesis in {text!r}")


def _dispatch_table() -> dict[str, tuple[re.Pattern[str], tuple[int, ...]]]:
    """For each character a trigger can start with: one alternation of those triggers, in table order, and their
    indices. Each trigger is one capturing group (the patterns capture nothing), so group N is the Nth index."""
    leads = [_leading_characters(pattern) for _, _, pattern in TRIGGERS]
    by_indices: dict[tuple[int, ...], re.Pattern[str]] = {}  # 煤, 燃, 天, … start the same triggers: compile once
    table: dict[str, tuple[re.Pattern[str], tuple[int, ...]]] = {}
    for char in sorted(set().union(*leads)):
        indices = tuple(index for index, chars in enumerate(leads) if char in chars)
        if indices not in by_indices:
            by_indices[indices] = re.compile("|".join(f"({TRIGGERS[index][2]})" for index in indices))
        table[char] = (by_indices[indices], indices)
    return table


# Most characters of a complaint cannot start any trigger, and each one that can starts only a few: trying just
# those few there is twice as fast as one alternation of every trigger at every character.
_BY_LEAD: Final = _dispatch_table()
_LEAD_RE: Final = re.compile(f"[{''.join(_BY_LEAD)}]")


def _trigger_matches(text: str) -> Iterator[tuple[int, int, int]]:
    """(trigger index, start, end) of each non-overlapping trigger match, left to right, as re.finditer would."""
    resume = 0
    for candidate in _LEAD_RE.finditer(text):
        start = candidate.start()
        if start < resume:
            continue
        pattern, indices = _BY_LEAD[text[start]]
        match = pattern.match(text, start)
        if match is not None:
            resume = match.end()
            yield indices[cast(int, match.lastindex) - 1], start, resume  # a match always has its group


# ─── what the words around a match say ─────────────────────────────────────────────────────────────────────────

# Right before the match. 有没有 and 是不是 ask, they do not deny; 没人管 / 没法 are no negation of the hazard.
_NEGATED: Final = re.compile(
    r"(?:(?<!有)没有?(?![法办人])|没人(?=被|受)|(?<!是)不是|并非|并未|从未|未|无(?![法论人])|不存在|排除|不会是)"
    rf"{GAP}{{0,3}}$|不$"
)
_PAST: Final = re.compile(
    r"上次|上回|以前|之前|从前|去年|前年|上个?月|上周|上星期|上礼拜|那次|那回|曾经|当时|前段时间|前阵子"
    r"|[0-9一二三四五六七八九十两几]+(?:个月|年|周|个星期)前|(?:19|20)[0-9]{2}年"
)
_RESOLVED: Final = re.compile(
    r"(?<![没未不])(?:处理(?:好|完)|修好|修复了|解决了|救出来了|扑灭|恢复(?:供电|供水|正常|了)|来电了|通电了|没事了"
    r"|排除了|查过|检查过|排查过)|已经?(?:处理|修复|解决|排除|恢复|扑灭|救出)|火(?:已经)?灭了"
)
# Announcements of what will happen ("停电通知:明天…"). A bare 通知 / 公告 is not one: "没有通知,整栋楼停电了".
_PLANNED: Final = re.compile(
    r"计划|预计|将于|将在|届时|明天|明日|明早|明晚|后天|下周|下星期|下个月"
    r"|(?:停电|停水|停气|检修|施工|演练)(?:通知|公告)|(?:通知|公告)[:\uff1a]"
)
# A drill anywhere in the text makes every hazard word in it part of the drill, unless its clause says otherwise.
_DRILL: Final = re.compile(r"演习|演练|消防培训|逃生训练|应急训练|模拟(?:起火|着火|火灾|停电|被困)")
_NOT_A_DRILL: Final = re.compile(r"不是演习|不是演练|并非演习|真的|真实")
# Advice texts ("温馨提示:如闻到煤气味…") talk about hazards in general.
_ADVICE: Final = re.compile(r"温馨提示|小贴士|须知|常识|科普|讲座|(?:安全|消防|防火|用气|用电)知识")
# A hazard that is only feared: "万一着火怎么办", "一旦发生火灾", "存在火灾隐患", "着火了消防车都进不来".
_WORRY_BEFORE: Final = re.compile(
    r"万一|如果|要是|假如|假设|一旦|倘若|如遇|如发现|如闻到|如有|若是?|(?<![害可])怕|担心|恐怕|生怕|以免|防止|预防|避免"
    r"|谨防|小心|当心|容易|可能(?!是)|会不会(?!是)|迟早|早晚|差点|险些|不然|否则|隐患"
)
# Inside a long match ("外墙瓷砖脱落,万一砸到人"); 差点砸到人 there is a near miss, which is an emergency.
_WORRY_WITHIN: Final = re.compile(r"万一|如果|要是|假如|一旦|可能(?!是)|担心|(?<![害可])怕|容易|会不会|迟早|早晚")
_WORRY_AFTER: Final = re.compile(
    rf"{GAP}{{0,6}}?(?:隐患|风险|的危险|危险性|谁负责|谁来负责|谁承担|不堪设想|进不来|跑不掉|逃不出|怎么逃|可不得了)"
)
_WORRY_QUESTION_AFTER: Final = re.compile(rf"{GAP}{{0,4}}?(?:怎么办|咋办|怎么整)")
# A hazard that keeps happening ("小区经常出现电梯困人", "一到冬天就爆管") needs a person today, not an ambulance now.
_HABITUAL: Final = re.compile(
    r"经常|常常|时常|老是|总是|频繁|频发|屡次|屡屡|每次|每当|每到|每逢|一到|动不动|三天两头|隔三差五"
    r"|(?:多次|几次|数次)(?:发生|出现)"
)
_GENERIC_AFTER: Final = re.compile(rf"{GAP}{{0,3}}?(?:事件|事故|现象|情况|问题)")
# Yesterday's event is over by the time it is written down; yesterday's outage or gas smell may still be going on.
_RECENT_PAST: Final = re.compile(r"昨天|昨晚|昨日|前天|前晚|前几天|前几日|前两天|那天|[0-9]{1,2}月[0-9]{1,2}[日号]")
_ONGOING: Final = re.compile(r"到现在|至今|仍未|一直|还没|还是|仍然|依然|还在")
_STATE_HAZARDS: Final = frozenset({"gas_leak", "flooding", "power_outage"})
# Smoke from a chimney, a barbecue or burning rubbish is a nuisance to report, not a fire.
_HARMLESS_SMOKE: Final = re.compile(r"烟囱|锅炉|排放|污染|焚烧|烧烤|秸秆|油烟|烧垃圾|烧纸|烧香|厂")
# Words that put the match in the present even next to 上次 / 以前 / a drill: "上次修好了,今天又困人了".
_PRESENT: Final = re.compile(
    r"(?<!到)现在|正在|目前|此刻|刚才|刚刚|今天|今晚|今早|这会|眼下|突然|又|还在|越来越|快来|救命|赶紧|赶快|速来"
    r"|还是|仍然|依然|马上|立刻|[0-9一二三四五六七八九十两几半]+(?:分钟|个?小时)了"
)


def detect_urgency(text: str) -> UrgencyFinding | None:
    """Finds the most serious present hazard a complaint describes.

    Args:
        text: The complaint, any length.

    Returns:
        The first emergency in the text, else the first urgent finding, else None (also for hazards that are
        negated, past, resolved, announced or part of a drill).

    Raises:
        TypeError: `text` is not a string.
    """
    if not isinstance(text, str):
        raise TypeError(f"detect_urgency needs a str, got {type(text).__name__}")
    first_urgent: UrgencyFinding | None = None
    for index, start, end in _trigger_matches(text):
        hazard_id, trigger_level, _ = TRIGGERS[index]
        level = _judge(text, start, end, hazard_id, trigger_level)
        if level is None:
            continue
        hazard = HAZARDS[hazard_id]
        if level == "emergency":
            return UrgencyFinding("emergency", hazard_id, hazard.emergency_notice, text[start:end])
        if first_urgent is None:
            first_urgent = UrgencyFinding("urgent", hazard_id, hazard.urgent_notice, text[start:end])
    return first_urgent


def _judge(text: str, start: int, end: int, hazard: str, level: UrgencyLevel) -> UrgencyLevel | None:
    """The level a hazard match deserves in its context: as matched, downgraded to urgent, or None (no danger)."""
    clause = _bounds(text, start, end, _CLAUSE_BREAKS, _CLAUSE_REACH)
    sentence = _bounds(text, start, end, _SENTENCE_BREAKS, _SENTENCE_REACH)
    if not _is_current(text, start, end, clause, sentence):
        return None
    if hazard == "fire" and "烟" in text[start:end] and _HARMLESS_SMOKE.search(text, *sentence):
        return None
    return "urgent" if _is_downgraded(text, start, end, hazard, clause, sentence) else level


def _is_current(text: str, start: int, end: int, clause: tuple[int, int], sentence: tuple[int, int]) -> bool:
    """False when the match is negated, or (with no present-tense word in its clause) past, resolved, announced,
    advice or part of a drill."""
    if _NEGATED.search(text, max(clause[0], start - 6), start):
        return False
    if _PRESENT.search(text, *clause):
        return True
    return not (
        text.startswith("过", end)  # 电梯困过人, 被淹过: an experience, not an event
        or _PAST.search(text, *sentence)
        or _RESOLVED.search(text, *sentence)
        or _PLANNED.search(text, sentence[0], start)
        or _ADVICE.search(text, *sentence)
        or (_DRILL.search(text) and not _NOT_A_DRILL.search(text, *clause))
    )


def _is_downgraded(
    text: str, start: int, end: int, hazard: str, clause: tuple[int, int], sentence: tuple[int, int]
) -> bool:
    """True when a current hazard is only feared, keeps recurring, is talked about in general or is already over."""
    if (
        _WORRY_BEFORE.search(text, clause[0], start)
        or _WORRY_WITHIN.search(text, start, end)
        or _WORRY_AFTER.match(text, end, clause[1])
    ):
        return True
    now_in_clause = _PRESENT.search(text, *clause) is not None
    now_in_sentence = now_in_clause or _PRESENT.search(text, *sentence) is not None
    if not now_in_clause and _HABITUAL.search(text, sentence[0], start):
        return True
    if (
        not now_in_clause
        and _RECENT_PAST.search(text, sentence[0], start)
        and (hazard not in _STATE_HAZARDS or not _ONGOING.search(text, *sentence))
    ):
        return True
    # "着火了怎么办" and "电梯困人事件" are mostly worries; with 现在 / 救命 / 快来 nearby they are calls for help.
    return not now_in_sentence and bool(
        _WORRY_QUESTION_AFTER.match(text, end, clause[1]) or _GENERIC_AFTER.match(text, end, clause[1])
    )


def _bounds(text: str, start: int, end: int, breaks: frozenset[str], reach: int) -> tuple[int, int]:
    """[start, end) of the clause or sentence (as `breaks` says) around text[start:end], at most `reach` characters
    either side: words further away rarely qualify the hazard, and an unpunctuated 2,000-character text stays fast."""
    left, floor = start, max(0, start - reach)
    while left > floor and text[left - 1] not in breaks:
        left -= 1
    right, ceiling = end, min(len(text), end + reach)
    while right < ceiling and text[right] not in breaks:
        right += 1
    return left, right
