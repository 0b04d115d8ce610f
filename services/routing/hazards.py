"""The hazards urgency detection knows: what to do about each, and the phrasings that name one (rules, no model).

`services/routing/urgency.py` matches these phrasings and judges the words around them; keeping the tables here keeps
the detector readable and lets the wording be reviewed on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

UrgencyLevel = Literal["emergency", "urgent"]


@dataclass(frozen=True, slots=True)
class Hazard:
    """What to tell the resident and the grid worker, for a present danger and for a same-day risk."""

    emergency_notice: str
    urgent_notice: str


HAZARDS: Final[dict[str, Hazard]] = {
    "gas_leak": Hazard(
        "疑似燃气泄漏:立即关闭燃气阀门、开窗通风,不要开关电器、不要点火,人员撤到室外后拨打燃气抢修电话;"
        "已起火拨打119,有人不适拨打120。",
        "燃气安全隐患:请物业当天联系燃气公司上门检查;一旦闻到燃气味,立即关阀、开窗、撤离并拨打燃气抢修电话。",
    ),
    "fire": Hazard(
        "火情:立即拨打119报警,不要乘电梯,用湿毛巾捂住口鼻沿疏散通道撤离;有人受伤拨打120,物业立即组织疏散。",
        "火灾隐患:请物业当天到场排查整改(如楼道充电、堆物、电线老化);发现明火或冒烟立即拨打119。",
    ),
    "lift_trapped": Hazard(
        "电梯困人:被困人员按轿厢警铃或拨打轿厢内应急电话,不要扒门、不要自行爬出;"
        "立即拨打96333电梯应急处置电话并通知物业,有人不适拨打120。",
        "电梯安全隐患:请物业当天通知电梯维保单位检查;一旦有人被困,拨打96333电梯应急处置电话。",
    ),
    "flooding": Hazard(
        "进水险情:立即关闭进户总水阀,切断进水区域电源以防触电;物业维修人员立即到场,地下室、车库不要涉水进入。",
        "进水隐患:请物业当天到场查看管道和排水;水量变大时立即关闭总水阀并切断电源。",
    ),
    "power_outage": Hazard(
        "大面积停电:物业值班电工立即排查,并拨打95598向供电部门报修;留意电梯是否困人(96333),不要用明火照明。",
        "供电隐患:请物业当天检查配电设施;如整栋楼停电,拨打95598报修并留意电梯是否困人。",
    ),
    "structural_danger": Hazard(
        "结构险情:立即远离危险区域、疏散下方人员并拉警戒线;物业立即封闭现场,有人受伤拨打120,险情严重拨打119。",
        "坠落/结构隐患:请物业当天到场检查,在下方设置警示和围挡,避免行人靠近。",
    ),
    "electric_shock": Hazard(
        "触电危险:不要用手直接接触触电者,先拉闸断电或用干燥木棍挑开电线,立即拨打120;物业电工立即到场。",
        "漏电/裸露电线:不要靠近和触碰,请物业电工当天断电处理并设置警示;有人触电立即拨打120。",
    ),
    "person_fallen": Hazard(
        "有人倒地不起:立即拨打120,不要随意搬动伤者;联系家属,网格员/社区立即上门。",
        "有人摔倒、晕倒或独居老人联系不上:请网格员/社区立即上门查看,有人受伤或不适拨打120,不要随意搬动,并联系家属。",
    ),
    "violence": Hazard(
        "暴力或威胁:立即拨打110报警,远离现场、保护自身安全,不要围观;有人受伤拨打120。",
        "冲突可能升级:请社区/网格员当天介入调解;一旦有人动手或持械,立即拨打110。",
    ),
}

HAZARD_IDS: Final[tuple[str, ...]] = tuple(HAZARDS)

# ─── hazard phrasings ──────────────────────────────────────────────────────────────────────────────────────────

# Residents type full-width punctuation (。！？；，、：) as often as ASCII; escapes keep both visible here.
SENTENCE_END_CHARS: Final = "\u3002\uff01\uff1f\uff1b!?;\n"
CLAUSE_END_CHARS: Final = SENTENCE_END_CHARS + "\uff0c,\u3001\uff1a:"
# A gap inside one phrasing stays in its clause and never crosses a negation ("燃气没有泄漏", "房屋很少被淹").
NEGATION_CHARS: Final = "没不未无非少"
GAP: Final = f"[^{CLAUSE_END_CHARS}{NEGATION_CHARS}]"
# Wider gap for phrasings whose two halves are often in neighbouring clauses ("墙体开裂,感觉随时会倒塌").
SPAN: Final = f"[^{SENTENCE_END_CHARS}{NEGATION_CHARS}]"
_GAS = r"(?:煤气|燃气|天然气|液化气|瓦斯)"
_PEOPLE = r"(?:人|行人|路人|居民|小孩|孩子|老人|我|他|她|头|身上)"

# (hazard, level, pattern). At one position the first alternative that matches wins, so within a hazard the
# emergency phrasing comes before the urgent one it contains ("漏电…电到了" before "漏电").
TRIGGERS: Final[tuple[tuple[str, UrgencyLevel, str], ...]] = (
    ("gas_leak", "emergency", rf"(?:闻到|有股|一股){GAP}{{0,6}}?{_GAS}(?:的)?(?:味道?)?"),
    ("gas_leak", "emergency", rf"{_GAS}{GAP}{{0,6}}?(?:味|泄漏|泄露|漏气|漏了|在漏|外漏|漏出|嘶嘶|中毒)"),
    ("gas_leak", "emergency", r"一氧化碳中毒"),
    # 着火点 is a drill's staging point; 打不着火 / 点着火 are a stove that will not light.
    # 浓烟滚滚 and 冒黑烟 are how chimneys are described, not fires.
    ("fire", "emergency", r"(?<![打点])(?<!打不)(?<!点不)着火(?!点)|起火|失火|烧起来|烧着了|火势|冒烟|浓烟(?!滚滚)"),
    # 火灾报警器 / 火警铃 sounding are a faulty alarm far more often than a fire.
    ("fire", "emergency", r"火灾(?!(?:自动)?报警|探测|救援|扑救|逃生|预防|防控|防范)|火警(?![铃器电])"),
    ("fire", "urgent", r"烧焦(?:的)?味|焦糊味|冒火花|打火花|电火花"),
    ("lift_trapped", "emergency", rf"(?:困|关|卡)在{GAP}{{0,3}}?电梯"),
    (
        "lift_trapped",
        "emergency",
        rf"电梯{GAP}{{0,8}}?(?:困(?![难扰惑])(?:住|人)?|被关|关住|卡住{GAP}{{0,3}}?人|出不来)",
    ),
    (
        "flooding",
        "emergency",
        rf"(?:水管|管道|管子|自来水管|暖气管|暖气片|水表|阀门){GAP}{{0,3}}?(?:爆|炸裂|破裂|崩|裂开)",
    ),
    ("flooding", "emergency", r"爆管|水漫金山|漫了一地"),
    (
        "flooding",
        "emergency",
        rf"(?:家|屋|房间|客厅|卧室|厨房|卫生间){GAP}{{0,4}}?(?:被淹|淹了|淹水|进水了|全是水|都是水|灌水)",
    ),
    ("flooding", "emergency", rf"(?:地下室|地下车库|地库|车库|储藏室){GAP}{{0,4}}?(?:进水|被淹|淹了|淹水|灌水|倒灌)"),
    ("flooding", "urgent", rf"(?:地下室|地下车库|地库|车库){GAP}{{0,4}}?积水"),
    (
        "power_outage",
        "emergency",
        rf"(?:整栋|整幢|整座|整个|全)(?:楼|栋|幢|单元|小区|楼栋){GAP}{{0,4}}?(?:停电|断电|没电|没有电|跳闸)",
    ),
    ("power_outage", "emergency", rf"小区{GAP}{{0,3}}?(?:全部|全都|都|整个)(?:停电|断电|没电|没有电)"),
    ("power_outage", "emergency", rf"(?:停电|断电){GAP}{{0,3}}?(?:整栋楼|整幢楼|全楼|整个小区|全小区)"),
    (
        "structural_danger",
        "emergency",
        rf"(?:外墙|空调外机|窗户|玻璃|广告牌|雨棚|天花板|吊顶){GAP}{{0,8}}?"
        rf"(?:砸下来|掉下来|坠落|脱落|掉落|往下掉){SPAN}{{0,12}}?"
        rf"(?:砸伤|(?:砸到|砸中|砸在|差点砸|险些砸){GAP}{{0,6}}?{_PEOPLE})",
    ),
    (
        "structural_danger",
        "emergency",
        rf"(?:墙|楼板|天花板|屋顶|房顶|梁|柱子|阳台|地面){GAP}{{0,6}}?(?:开裂|裂缝|裂开|裂了)"
        rf"{SPAN}{{0,16}}?(?:倒塌|坍塌|塌|掉下来|砸下来)",
    ),
    (
        "structural_danger",
        "emergency",
        rf"(?:阳台|雨棚|天花板|吊顶|楼梯|围墙|屋顶|房顶|楼板|外墙|挡土墙|车棚){GAP}{{0,4}}?"
        r"(?:塌了|坍塌|倒塌|塌下来|塌陷|垮了|塌掉)",
    ),
    ("structural_danger", "emergency", r"(?:天花板|吊顶)(?:掉下来|砸下来)"),
    (
        "structural_danger",
        "urgent",
        rf"(?:外墙|空调外机|广告牌|雨棚){GAP}{{0,6}}?(?:砸下来|掉下来|坠落|脱落|掉落|往下掉|松动)",
    ),
    (
        "electric_shock",
        "emergency",
        rf"(?:漏电|电线裸露|裸露的电线|电线外露){SPAN}{{0,15}}?(?:电到|电了一下|发麻|麻了|触电|电伤)",
    ),
    ("electric_shock", "emergency", r"触电|被电到|电到了?(?:人|我|小孩|孩子|老人)|电了一下|被电了|被电击|电死|电伤"),
    ("electric_shock", "urgent", r"漏电(?!保护|开关)|电线裸露|裸露的电线|电线外露"),
    ("electric_shock", "urgent", rf"(?:电线|电缆){GAP}{{0,4}}?(?:破皮|露铜|拖在地上|泡在水里)"),
    (
        "person_fallen",
        "urgent",
        rf"(?:摔倒|跌倒|摔了一跤|摔伤|滑倒|倒在地上|倒地){SPAN}{{0,12}}?"
        r"(?:起不来|站不起来|爬不起来|动不了|没反应|叫不醒)",
    ),
    ("person_fallen", "urgent", r"晕倒|昏倒|昏迷|不省人事|叫不醒"),
    (
        "person_fallen",
        "urgent",
        rf"独居{SPAN}{{0,20}}?(?:几天|好几天|两天|三天)(?:都)?没(?:见|出门|动静|开门|露面)",
    ),
    # 拨打人工服务 is a phone call; 杀人不见血 an idiom.
    (
        "violence",
        "emergency",
        r"打起来|打架|斗殴|殴打|动手打|(?<!拨)打人(?!工)|被打(?:了|伤|得)|持刀|挥刀|拿(?:着)?刀(?!切)",
    ),
    ("violence", "emergency", r"砍人|砍伤|行凶|家暴|杀人(?!不见血)|要杀|捅人|捅伤|弄死(?:你|我|他|她)"),
    ("violence", "emergency", rf"(?:威胁|扬言){GAP}{{0,6}}?(?:杀|砍|打死|弄死|报复)"),
)
