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
from typing import Final, Literal, cast

UrgencyLevel = Literal["emergency", "urgent"]


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


@dataclass(frozen=True, slots=True)
class _Hazard:
    emergency_notice: str
    urgent_notice: str


_HAZARDS: Final[dict[str, _Hazard]] = {
    "gas_leak": _Hazard(
        "疑似燃气泄漏:立即关闭燃气阀门、开窗通风,不要开关电器、不要点火,人员撤到室外后拨打燃气抢修电话;"
        "已起火拨打119,有人不适拨打120。",
        "燃气安全隐患:请物业当天联系燃气公司上门检查;一旦闻到燃气味,立即关阀、开窗、撤离并拨打燃气抢修电话。",
    ),
    "fire": _Hazard(
        "火情:立即拨打119报警,不要乘电梯,用湿毛巾捂住口鼻沿疏散通道撤离;有人受伤拨打120,物业立即组织疏散。",
        "火灾隐患:请物业当天到场排查整改(如楼道充电、堆物、电线老化);发现明火或冒烟立即拨打119。",
    ),
    "lift_trapped": _Hazard(
        "电梯困人:被困人员按轿厢警铃或拨打轿厢内应急电话,不要扒门、不要自行爬出;"
        "立即拨打96333电梯应急处置电话并通知物业,有人不适拨打120。",
        "电梯安全隐患:请物业当天通知电梯维保单位检查;一旦有人被困,拨打96333电梯应急处置电话。",
    ),
    "flooding": _Hazard(
        "进水险情:立即关闭进户总水阀,切断进水区域电源以防触电;物业维修人员立即到场,地下室、车库不要涉水进入。",
        "进水隐患:请物业当天到场查看管道和排水;水量变大时立即关闭总水阀并切断电源。",
    ),
    "power_outage": _Hazard(
        "大面积停电:物业值班电工立即排查,并拨打95598向供电部门报修;留意电梯是否困人(96333),不要用明火照明。",
        "供电隐患:请物业当天检查配电设施;如整栋楼停电,拨打95598报修并留意电梯是否困人。",
    ),
    "structural_danger": _Hazard(
        "结构险情:立即远离危险区域、疏散下方人员并拉警戒线;物业立即封闭现场,有人受伤拨打120,险情严重拨打119。",
        "坠落/结构隐患:请物业当天到场检查,在下方设置警示和围挡,避免行人靠近。",
    ),
    "electric_shock": _Hazard(
        "触电危险:不要用手直接接触触电者,先拉闸断电或用干燥木棍挑开电线,立即拨打120;物业电工立即到场。",
        "漏电/裸露电线:不要靠近和触碰,请物业电工当天断电处理并设置警示;有人触电立即拨打120。",
    ),
    "person_fallen": _Hazard(
        "有人倒地不起:立即拨打120,不要随意搬动伤者;联系家属,网格员/社区立即上门。",
        "有人摔倒、晕倒或独居老人联系不上:请网格员/社区立即上门查看,有人受伤或不适拨打120,不要随意搬动,并联系家属。",
    ),
    "violence": _Hazard(
        "暴力或威胁:立即拨打110报警,远离现场、保护自身安全,不要围观;有人受伤拨打120。",
        "冲突可能升级:请社区/网格员当天介入调解;一旦有人动手或持械,立即拨打110。",
    ),
}

HAZARD_IDS: Final[tuple[str, ...]] = tuple(_HAZARDS)

# ─── hazard phrasings ──────────────────────────────────────────────────────────────────────────────────────────

# Residents type full-width punctuation (。！？；，、：) as often as ASCII; escapes keep both visible here.
_SENTENCE_END_CHARS: Final = "\u3002\uff01\uff1f\uff1b!?;\n"
_CLAUSE_END_CHARS: Final = _SENTENCE_END_CHARS + "\uff0c,\u3001\uff1a:"
_SENTENCE_BREAKS: Final = frozenset(_SENTENCE_END_CHARS)
_CLAUSE_BREAKS: Final = frozenset(_CLAUSE_END_CHARS)
_CLAUSE_REACH: Final = 24
_SENTENCE_REACH: Final = 60
# A gap inside one phrasing stays in its clause and never crosses a negation ("燃气没有泄漏", "房屋很少被淹").
_NEGATION_CHARS: Final = "没不未无非少"
_GAP: Final = f"[^{_CLAUSE_END_CHARS}{_NEGATION_CHARS}]"
# Wider gap for phrasings whose two halves are often in neighbouring clauses ("墙体开裂,感觉随时会倒塌").
_SPAN: Final = f"[^{_SENTENCE_END_CHARS}{_NEGATION_CHARS}]"
_GAS = r"(?:煤气|燃气|天然气|液化气|瓦斯)"
_PEOPLE = r"(?:人|行人|路人|居民|小孩|孩子|老人|我|他|她|头|身上)"

# (hazard, level, pattern). At one position the first alternative that matches wins, so within a hazard the
# emergency phrasing comes before the urgent one it contains ("漏电…电到了" before "漏电").
_TRIGGERS: Final[tuple[tuple[str, UrgencyLevel, str], ...]] = (
    ("gas_leak", "emergency", rf"(?:闻到|有股|一股){_GAP}{{0,6}}?{_GAS}(?:的)?(?:味道?)?"),
    ("gas_leak", "emergency", rf"{_GAS}{_GAP}{{0,6}}?(?:味|泄漏|泄露|漏气|漏了|在漏|外漏|漏出|嘶嘶|中毒)"),
    ("gas_leak", "emergency", r"一氧化碳中毒"),
    # 着火点 is a drill's staging point; 打不着火 / 点着火 are a stove that will not light.
    # 浓烟滚滚 and 冒黑烟 are how chimneys are described, not fires.
    ("fire", "emergency", r"(?<![打点])(?<!打不)(?<!点不)着火(?!点)|起火|失火|烧起来|烧着了|火势|冒烟|浓烟(?!滚滚)"),
    # 火灾报警器 / 火警铃 sounding are a faulty alarm far more often than a fire.
    ("fire", "emergency", r"火灾(?!(?:自动)?报警|探测|救援|扑救|逃生|预防|防控|防范)|火警(?![铃器电])"),
    ("fire", "urgent", r"烧焦(?:的)?味|焦糊味|冒火花|打火花|电火花"),
    ("lift_trapped", "emergency", rf"(?:困|关|卡)在{_GAP}{{0,3}}?电梯"),
    (
        "lift_trapped",
        "emergency",
        rf"电梯{_GAP}{{0,8}}?(?:困(?![难扰惑])(?:住|人)?|被关|关住|卡住{_GAP}{{0,3}}?人|出不来)",
    ),
    (
        "flooding",
        "emergency",
        rf"(?:水管|管道|管子|自来水管|暖气管|暖气片|水表|阀门){_GAP}{{0,3}}?(?:爆|炸裂|破裂|崩|裂开)",
    ),
    ("flooding", "emergency", r"爆管|水漫金山|漫了一地"),
    (
        "flooding",
        "emergency",
        rf"(?:家|屋|房间|客厅|卧室|厨房|卫生间){_GAP}{{0,4}}?(?:被淹|淹了|淹水|进水了|全是水|都是水|灌水)",
    ),
    ("flooding", "emergency", rf"(?:地下室|地下车库|地库|车库|储藏室){_GAP}{{0,4}}?(?:进水|被淹|淹了|淹水|灌水|倒灌)"),
    ("flooding", "urgent", rf"(?:地下室|地下车库|地库|车库){_GAP}{{0,4}}?积水"),
    (
        "power_outage",
        "emergency",
        rf"(?:整栋|整幢|整座|整个|全)(?:楼|栋|幢|单元|小区|楼栋){_GAP}{{0,4}}?(?:停电|断电|没电|没有电|跳闸)",
    ),
    ("power_outage", "emergency", rf"小区{_GAP}{{0,3}}?(?:全部|全都|都|整个)(?:停电|断电|没电|没有电)"),
    ("power_outage", "emergency", rf"(?:停电|断电){_GAP}{{0,3}}?(?:整栋楼|整幢楼|全楼|整个小区|全小区)"),
    (
        "structural_danger",
        "emergency",
        rf"(?:外墙|空调外机|窗户|玻璃|广告牌|雨棚|天花板|吊顶){_GAP}{{0,8}}?"
        rf"(?:砸下来|掉下来|坠落|脱落|掉落|往下掉){_SPAN}{{0,12}}?"
        rf"(?:砸伤|(?:砸到|砸中|砸在|差点砸|险些砸){_GAP}{{0,6}}?{_PEOPLE})",
    ),
    (
        "structural_danger",
        "emergency",
        rf"(?:墙|楼板|天花板|屋顶|房顶|梁|柱子|阳台|地面){_GAP}{{0,6}}?(?:开裂|裂缝|裂开|裂了)"
        rf"{_SPAN}{{0,16}}?(?:倒塌|坍塌|塌|掉下来|砸下来)",
    ),
    (
        "structural_danger",
        "emergency",
        rf"(?:阳台|雨棚|天花板|吊顶|楼梯|围墙|屋顶|房顶|楼板|外墙|挡土墙|车棚){_GAP}{{0,4}}?"
        r"(?:塌了|坍塌|倒塌|塌下来|塌陷|垮了|塌掉)",
    ),
    ("structural_danger", "emergency", r"(?:天花板|吊顶)(?:掉下来|砸下来)"),
    (
        "structural_danger",
        "urgent",
        rf"(?:外墙|空调外机|广告牌|雨棚){_GAP}{{0,6}}?(?:砸下来|掉下来|坠落|脱落|掉落|往下掉|松动)",
    ),
    (
        "electric_shock",
        "emergency",
        rf"(?:漏电|电线裸露|裸露的电线|电线外露){_SPAN}{{0,15}}?(?:电到|电了一下|发麻|麻了|触电|电伤)",
    ),
    ("electric_shock", "emergency", r"触电|被电到|电到了?(?:人|我|小孩|孩子|老人)|电了一下|被电了|被电击|电死|电伤"),
    ("electric_shock", "urgent", r"漏电(?!保护|开关)|电线裸露|裸露的电线|电线外露"),
    ("electric_shock", "urgent", rf"(?:电线|电缆){_GAP}{{0,4}}?(?:破皮|露铜|拖在地上|泡在水里)"),
    (
        "person_fallen",
        "urgent",
        rf"(?:摔倒|跌倒|摔了一跤|摔伤|滑倒|倒在地上|倒地){_SPAN}{{0,12}}?"
        r"(?:起不来|站不起来|爬不起来|动不了|没反应|叫不醒)",
    ),
    ("person_fallen", "urgent", r"晕倒|昏倒|昏迷|不省人事|叫不醒"),
    (
        "person_fallen",
        "urgent",
        rf"独居{_SPAN}{{0,20}}?(?:几天|好几天|两天|三天)(?:都)?没(?:见|出门|动静|开门|露面)",
    ),
    # 拨打人工服务 is a phone call; 杀人不见血 an idiom.
    (
        "violence",
        "emergency",
        r"打起来|打架|斗殴|殴打|动手打|(?<!拨)打人(?!工)|被打(?:了|伤|得)|持刀|挥刀|拿(?:着)?刀(?!切)",
    ),
    ("violence", "emergency", r"砍人|砍伤|行凶|家暴|杀人(?!不见血)|要杀|捅人|捅伤|弄死(?:你|我|他|她)"),
    ("violence", "emergency", rf"(?:威胁|扬言){_GAP}{{0,6}}?(?:杀|砍|打死|弄死|报复)"),
)


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
    leads = [_leading_characters(pattern) for _, _, pattern in _TRIGGERS]
    by_indices: dict[tuple[int, ...], re.Pattern[str]] = {}  # 煤, 燃, 天, … start the same triggers: compile once
    table: dict[str, tuple[re.Pattern[str], tuple[int, ...]]] = {}
    for char in sorted(set().union(*leads)):
        indices = tuple(index for index, chars in enumerate(leads) if char in chars)
        if indices not in by_indices:
            by_indices[indices] = re.compile("|".join(f"({_TRIGGERS[index][2]})" for index in indices))
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
    rf"{_GAP}{{0,3}}$|不$"
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
    rf"{_GAP}{{0,6}}?(?:隐患|风险|的危险|危险性|谁负责|谁来负责|谁承担|不堪设想|进不来|跑不掉|逃不出|怎么逃|可不得了)"
)
_WORRY_QUESTION_AFTER: Final = re.compile(rf"{_GAP}{{0,4}}?(?:怎么办|咋办|怎么整)")
# A hazard that keeps happening ("小区经常出现电梯困人", "一到冬天就爆管") needs a person today, not an ambulance now.
_HABITUAL: Final = re.compile(
    r"经常|常常|时常|老是|总是|频繁|频发|屡次|屡屡|每次|每当|每到|每逢|一到|动不动|三天两头|隔三差五"
    r"|(?:多次|几次|数次)(?:发生|出现)"
)
_GENERIC_AFTER: Final = re.compile(rf"{_GAP}{{0,3}}?(?:事件|事故|现象|情况|问题)")
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
        hazard_id, trigger_level, _ = _TRIGGERS[index]
        level = _judge(text, start, end, hazard_id, trigger_level)
        if level is None:
            continue
        hazard = _HAZARDS[hazard_id]
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
