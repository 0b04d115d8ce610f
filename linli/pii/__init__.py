"""Finds personal data in Chinese complaint text and replaces it with typed placeholders such as [手机号].

Residents write phone numbers, ID numbers, plates, room numbers and names into complaints, and a resolved case is
shown to other residents as a precedent, so text is scrubbed before it is embedded, stored, logged or returned.
Detection is rules: precompiled regular expressions, and for bare names (张伟昨天..., 已联系李建华) surname and
given-name rules checked against jieba's tagged dictionary (linli/pii/bare_names.py), loaded once per process on
the first text (about two seconds, or call `preload()` at start); then about 0.1 ms per complaint-length text.

What deliberately survives, because routing needs it and it identifies no household: a building alone (3号楼的灯),
a building with a unit but no room (3号楼2单元的楼道), floors (6楼), dates and times, amounts, counts, hotlines
(12345, 110, 96196, 400-820-8820), already masked numbers (138****5678) and roles without a name (物业经理, 楼组长).
"""

from __future__ import annotations

__all__ = ["PLACEHOLDERS", "PiiSpan", "PiiType", "find_pii", "preload", "scrub", "scrubber_fingerprint"]

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from linli.pii.bare_names import find_bare_names, preload
from linli.pii.fingerprint import scrubber_fingerprint
from linli.pii.surnames import COMPOUND_SURNAMES, NICK_SURNAMES, NOT_IN_GIVEN_NAME, SURNAME_WORDS, SURNAMES


class PiiType(StrEnum):
    """The kinds of personal data the scrubber finds, in the order that wins when two equally long spans overlap."""

    ID_NUMBER = "id_number"
    MOBILE = "mobile"
    LANDLINE = "landline"
    EMAIL = "email"
    PLATE = "plate"
    WECHAT = "wechat"
    ROOM = "room"
    NAME = "name"


PLACEHOLDERS: Final[Mapping[PiiType, str]] = MappingProxyType(
    {
        PiiType.ID_NUMBER: "[身份证号]",
        PiiType.MOBILE: "[手机号]",
        PiiType.LANDLINE: "[座机]",
        PiiType.EMAIL: "[邮箱]",
        PiiType.PLATE: "[车牌]",
        PiiType.WECHAT: "[微信号]",
        PiiType.ROOM: "[房号]",
        PiiType.NAME: "[姓名]",
    }
)


@dataclass(frozen=True, slots=True)
class PiiSpan:
    """One piece of personal data: its type and its [start, end) character offsets in the text."""

    type: PiiType
    start: int
    end: int

    @property
    def placeholder(self) -> str:
        """What replaces the span when the text is scrubbed, e.g. `[手机号]`."""
        return PLACEHOLDERS[self.type]


# Full-width ASCII (１３８, ＠, （）, ：) and dash variants map one character to one character, so the patterns only
# need ASCII and every offset found in the folded text is an offset in the original.
_FOLD: Final = str.maketrans(
    {**{chr(code): chr(code - 0xFEE0) for code in range(0xFF01, 0xFF5F)}, "\u3000": " "}
    | dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2212", "-")
)


def _starting_with(first: str, pattern: str) -> str:
    """Prefixes a pattern with a one-character test: re tries every position, and most positions fail it at once."""
    return f"(?=[{first}]){pattern}"


# --- numbers -----------------------------------------------------------------------------------------------------
_AREA_CODE = r"0(?:10|2[0-9]|[3-9][0-9]{2})"  # 010, 02x, then four-digit codes 03xx-09xx
# A decimal point after eleven digits makes a figure from a table, not a phone.
_MOBILE = _starting_with(
    "0-9+", r"(?<![0-9A-Za-z])(?:(?:\+|00)86[ -]?)?1[3-9][0-9](?:[ -]?[0-9]{4}){2}(?![0-9]|\.[0-9])"
)
# Local numbers never start with 0 or 1, which keeps 12345, 110 and 96196 (and mobiles) out.
_LANDLINE = _starting_with(
    "0(",
    rf"(?<![0-9A-Za-z])(?:\({_AREA_CODE}\)[ -]?|{_AREA_CODE}[ -]?)[2-9][0-9]{{6,7}}(?:(?:-|转)[0-9]{{1,5}})?(?![0-9])",
)
# Without an area code a 7-8 digit number is only a phone when the text says so: order and invoice numbers look alike.
_LOCAL_LANDLINE = r"(?:电话|座机|固话)(?:号码|号)?[ :]*(?:(?:是|为)[ :]*)?(?P<pii>[2-8][0-9]{6,7})(?![0-9])"
_BIRTH_DATE = r"(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
_ID_NUMBER = _starting_with("1-9", rf"(?<![0-9A-Za-z])[1-9][0-9]{{5}}{_BIRTH_DATE}[0-9]{{3}}[0-9Xx](?![0-9A-Za-z])")
# Starting only where a run of address characters starts keeps a long run without "@" from being rescanned per char.
_EMAIL = r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"

# --- vehicles and accounts ---------------------------------------------------------------------------------------
_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_PLATE_LETTER = "A-HJ-NP-Za-hj-np-z"  # plates never use I or O
# Five characters after the city letter, six on new-energy plates; at least one digit, or 京ABCDE in prose would match.
_PLATE = _starting_with(
    _PROVINCES,
    rf"(?<![A-Za-z0-9])[{_PROVINCES}][{_PLATE_LETTER}][·•・. -]?(?=[A-Za-z]{{0,5}}[0-9])"
    rf"(?:[{_PLATE_LETTER}0-9]{{5,6}}|[{_PLATE_LETTER}0-9]{{4}}[挂学警港澳])(?![A-Za-z0-9])",
)
# The id follows a WeChat keyword; the keyword stays in the text ("加我微信[微信号]") because it carries no identity.
_WECHAT_KEYWORD = r"(?:微信号码|微信号|微信|薇信|威信|[Vv]信|(?<![A-Za-z])(?:[VvWw][Xx]|[Ww]eixin|[Ww]e[Cc]hat)号?)"
_WECHAT_ID = r"[A-Za-z][A-Za-z0-9_-]{5,19}(?![A-Za-z0-9_-])|[0-9]{6,11}(?![0-9A-Za-z_-])(?![年月日元块号个人])"
_WECHAT = _starting_with("微薇威VvWw", rf"{_WECHAT_KEYWORD}[ :]*(?:(?:是|为)[ :]*)?(?P<pii>{_WECHAT_ID})")

# --- rooms -------------------------------------------------------------------------------------------------------
# A building alone or a building and unit is kept (routing and workers need it); a room number pins one household,
# so the whole address up to the room becomes [房号].
_BUILDING = r"(?:[0-9]{1,3}|[一二三四五六七八九十两]{1,3}|[A-Za-z][0-9]{0,2})(?:号楼|栋|幢|座|号)"
_UNIT = r"[0-9一二三四五六七八九十]{1,2}单元"
_ROOM_SUFFIX = r"室|号房(?![屋子产])|房间"  # 117号房屋 is a street number
# A bare 3-4 digit number is a room unless a unit of measure or time follows (5栋2024年, 3栋120户, 23栋6578套).
_NOT_ROOM_AFTER = "年月日元块米个人户多余来平万千百%.:楼层栋幢期路次辆台件斤分秒吨度条部位届班套A-Za-z"
_ROOM_END = rf"(?![0-9])(?:{_ROOM_SUFFIX}|号|(?![{_NOT_ROOM_AFTER}]|天(?!天)))"  # 住了300天, but 902天天
_ROOM_PATTERNS = (
    _starting_with(
        "0-9一二三四五六七八九十两A-Za-z",
        rf"(?<![0-9A-Za-z]){_BUILDING} ?(?:{_UNIT} ?)?(?:[0-9]{{1,2}}(?:楼|层))?[0-9]{{3,4}}{_ROOM_END}",
    ),
    _starting_with("0-9一二三四五六七八九十", rf"(?<![0-9一二三四五六七八九十]){_UNIT} ?[0-9]{{3,4}}{_ROOM_END}"),
    _starting_with("0-9", r"(?<![0-9A-Za-z-])[0-9]{1,3}-[0-9]{1,2}-[0-9]{3,4}(?![0-9-])"),  # 7-2-301
    _starting_with("0-9", rf"(?<![0-9A-Za-z])[0-9]{{3,4}}(?:{_ROOM_SUFFIX})"),
    _starting_with(
        "楼隔对住家我他她",
        rf"(?:楼上|楼下|隔壁|对门|对面|住在|家住|我家|他家|她家|住) ?(?P<pii>[0-9]{{3,4}}{_ROOM_END})",
    ),
)

# --- names -------------------------------------------------------------------------------------------------------
# A surname right after one of these characters ends an ordinary word instead: 主任, 对方, 谢谢, 由于, 照顾, 历史...
_NOT_A_SURNAME_AFTER: Final[Mapping[str, str]] = {
    "任": "主责信担专兼现前历上就赴离留继聘委新所升接出调转改另原连首初自一二三四五六七八九十",
    "方": "对双地各警官南北东西多甲乙买卖军校院资主前后上下这那一",
    "谢": "谢感多致答道鸣代",
    "于": "迫由关对至等属鉴基处终过出位在善归限利便易用敢勇乐忙急苦趋濒免安甘陷见源始死毁决力助高低大小多少早晚"
    "近类当忠致适宜精勤",
    "顾": "照回光兼不环惠主",
    "史": "历",
    "钱": "交付给花赚要收退借还省罚有没多少挣骗价本",
    "林": "森园树竹山雨武少绿农",
    "高": "提最升增拔太很更较加身",
    "白": "明空坦告洁表雪苍",
    "金": "押资现基租奖罚薪黄美千养",
    "余": "多其业剩结盈空课",
    "叶": "树茶绿落枝红",
    "何": "如为任几奈",
    "周": "一每上下本这那四",
    "程": "工过流课进日全行章规产路疗旅",
    "孙": "子儿外曾",
    "付": "支交预对应垫偿给",
    "童": "儿孩",
    "冷": "制空寒",
    "戚": "亲",
    "黄": "发泛变橙",
    "齐": "整一看",
    "毛": "羽皮眉",
    "范": "规模防示典师风就",
    "纪": "年世",
    "陆": "内大登着",
}
# 老X / 小X that are ordinary words although X is a surname.
_NICK_WORDS = (
    "小黄车|小黄狗|小黄鸭|小程序|小高层|小孔|小段|小康|小范围|小金库|小金鱼|小白菜|小白鞋|小白兔|"
    "小龙虾|小马扎|小钱|小牛|小毛病|小方桌|小方块|小胡同|小周末|小杨树|小石子|小林子|老毛病|老江湖|"
    "老黄历|老黄牛|老赖|老实|老顾客|老方法|老方案|老方式|老方子"
)
_NOT_A_SURNAME_BIGRAMS = "|".join(before + char for char, befores in _NOT_A_SURNAME_AFTER.items() for before in befores)
_SURNAME = "(?:" + "|".join(COMPOUND_SURNAMES) + f"|[{SURNAMES}](?<!{_NOT_A_SURNAME_BIGRAMS}))"
_SURNAME_FIRST = "".join(sorted(set(SURNAMES) | {name[0] for name in COMPOUND_SURNAMES}))
_GIVEN_CHAR = rf"(?:(?![{NOT_IN_GIVEN_NAME}])[\u4e00-\u9fff])"
_TITLE_GUARD = "(?![满期久远大度时出得了着效江短高草相条途年])"  # 到处长满, 楼长期
_HONORIFICS = (
    "老太太|老先生|老爷子|老太|老板娘|老板|老师|先生|女士|小姐|阿姨|阿婆|阿公|师傅|大爷|大妈|大娘|大婶|大叔|大伯|大哥|"
    "大姐|奶奶|爷爷|婆婆|叔叔|伯伯|姐姐|哥哥|同志|经理|主任|书记|医生|律师|警官|管家|主管|总监|教授|"
    f"(?:组|楼|站|科|处|局|所|队|院|校|会|村|部|厂|店)长{_TITLE_GUARD}"
)
_FORMAL_HONORIFICS = "先生|女士|小姐|同志|老师|师傅|经理|主任|书记|医生|律师|警官"  # after a full name: 王建国先生
_ONE_CHAR_HONORIFICS = (
    "哥(?!们)|姐(?![妹夫])|叔|伯|婶|姨(?!妈)|总(?![是结共算体部之要会有数额价计站台归面公工务经监量和理则管书督])"
)
# After a full name (given by a trigger) comes a pause or a verb, never more name.
_AFTER_NAME = (
    r"(?=$|[\s0-9A-Za-z,.;:!?()\-、。“”‘’…]"
    "|[说的在是和跟也又把被给对等不都就还已要反投称讲问找让请帮家从每经总一最打来去到住多这那他她很太将会能可曾与及同])"
)
_NAME_TRIGGERS = (
    "联系人|姓名|我叫|名叫|署名|落款|业主代表|业主|住户|租户|房东|房客|邻居|户主|居民|投诉人|反映人|报修人|举报人|"
    "申请人|负责人|经办人|网格员|楼组长|楼长|组长|主任|经理|书记|管家|保安|保洁员|志愿者|代表"
)
_FULL_NAME = rf"(?!{SURNAME_WORDS}){_SURNAME}{_GIVEN_CHAR}{{1,2}}"
_NAME_PATTERNS = (
    _starting_with(_SURNAME_FIRST, rf"{_SURNAME}(?:{_HONORIFICS}|{_ONE_CHAR_HONORIFICS})"),  # 王阿姨, 李先生, 叶姐
    _starting_with(_SURNAME_FIRST, rf"{_FULL_NAME}(?:{_FORMAL_HONORIFICS})"),  # 王建国先生
    _starting_with(  # 老刘, 小陈, 小王师傅
        "老小",
        rf"(?!{_NICK_WORDS})(?:(?<![养古元敬尊父遗防衰山])老|(?<![大从最很较太缩减矮弱细胆短狭微渺变幼偏过])小)"
        rf"[{NICK_SURNAMES}](?:{_HONORIFICS})?",
    ),
    # 刘某某, 王某, and 朱某杰 as court papers and news write a name they hide.
    _starting_with(_SURNAME_FIRST, rf"{_SURNAME}某(?:某|(?![种些个天日年月时处地位次项类方人件]){_GIVEN_CHAR}?)"),
    _starting_with(  # 业主陈静, 联系人:张伟
        "".join(sorted({trigger[0] for trigger in _NAME_TRIGGERS.split("|")})),
        rf"(?:{_NAME_TRIGGERS})[ :]*(?P<pii>{_FULL_NAME}){_AFTER_NAME}",
    ),
)


@dataclass(frozen=True, slots=True)
class _Detector:
    type: PiiType
    pattern: re.Pattern[str]
    needs_digit: bool

    def spans(self, text: str) -> list[tuple[int, int]]:
        group = "pii" if "pii" in self.pattern.groupindex else 0
        return [match.span(group) for match in self.pattern.finditer(text)]


def _detectors() -> tuple[_Detector, ...]:
    numeric = (
        (PiiType.ID_NUMBER, (_ID_NUMBER,)),
        (PiiType.MOBILE, (_MOBILE,)),
        (PiiType.LANDLINE, (_LANDLINE, _LOCAL_LANDLINE)),
        (PiiType.PLATE, (_PLATE,)),
        (PiiType.WECHAT, (_WECHAT,)),
        (PiiType.ROOM, _ROOM_PATTERNS),
    )
    built = [_Detector(kind, re.compile(p), needs_digit=kind is not PiiType.WECHAT) for kind, ps in numeric for p in ps]
    built.append(_Detector(PiiType.EMAIL, re.compile(_EMAIL), needs_digit=False))
    built.extend(_Detector(PiiType.NAME, re.compile(pattern), needs_digit=False) for pattern in _NAME_PATTERNS)
    return tuple(built)


_DETECTORS: Final = _detectors()
_PRIORITY: Final[Mapping[PiiType, int]] = {kind: rank for rank, kind in enumerate(PiiType)}
_DIGIT: Final = re.compile(r"[0-9]")


def find_pii(text: str) -> list[PiiSpan]:
    """Finds the personal data in a text.

    Args:
        text: Any text; full-width digits and letters are recognised like ASCII ones.

    Returns:
        Non-overlapping spans in text order. Where candidates overlap, the longest wins, then the type listed
        first in `PiiType` (an e-mail address beats the mobile number inside it).

    Raises:
        TypeError: `text` is not a string.
    """
    if not isinstance(text, str):
        raise TypeError(f"find_pii needs a str, got {type(text).__name__}")
    folded = text.translate(_FOLD)
    has_digit = _DIGIT.search(folded) is not None
    candidates = [
        PiiSpan(detector.type, start, end)
        for detector in _DETECTORS
        if has_digit or not detector.needs_digit
        if detector.type is not PiiType.EMAIL or "@" in folded
        for start, end in detector.spans(folded)
    ]
    candidates += [PiiSpan(PiiType.NAME, start, end) for start, end in find_bare_names(folded)]
    candidates.sort(key=lambda span: (span.start - span.end, _PRIORITY[span.type], span.start))
    taken: list[PiiSpan] = []
    for span in candidates:
        if all(span.end <= kept.start or span.start >= kept.end for kept in taken):
            taken.append(span)
    return sorted(taken, key=lambda span: span.start)


def scrub(text: str) -> str:
    """Returns the text with each piece of personal data replaced by its placeholder, e.g. `电话[手机号]`.

    Raises:
        TypeError: `text` is not a string.
    """
    pieces: list[str] = []
    position = 0
    for span in find_pii(text):
        pieces += (text[position : span.start], span.placeholder)
        position = span.end
    pieces.append(text[position:])
    return "".join(pieces)
