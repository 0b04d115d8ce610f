"""Urgency detection: hazards in present danger, worries, and the negated, past, resolved and drill mentions."""

from __future__ import annotations

import pytest

from services.routing.hazards import HAZARD_IDS
from services.routing.urgency import _leading_characters, detect_urgency

EMERGENCIES = [
    ("3号楼2单元楼道里一股很重的煤气味,大家快来看看", "gas_leak"),
    ("闻到一股煤气味,好像是隔壁家传出来的,敲门没人应", "gas_leak"),
    ("天然气味道很重,不敢开灯也不敢开油烟机", "gas_leak"),
    ("厨房燃气管道在漏气,一直嘶嘶响", "gas_leak"),
    ("是不是燃气泄漏了?家里一股怪味,头有点晕", "gas_leak"),
    ("燃气公司来查过好几次了,还是有煤气味", "gas_leak"),
    ("物业只会在楼道贴宣传海报,楼道里煤气味很重", "gas_leak"),
    ("5号楼18楼着火了!浓烟很大", "fire"),
    ("楼下车棚里的电动车起火了,快打119", "fire"),
    ("一楼配电箱在冒烟,还有焦味", "fire"),
    ("楼道里堆的纸箱烧起来了", "fire"),
    ("上个月刚搞过消防演习,今天5号楼真的着火了!", "fire"),
    ("我妈被困在电梯里快半小时了,按警铃没人应", "lift_trapped"),
    ("孩子被关在电梯里出不来,电梯停在6楼和7楼之间", "lift_trapped"),
    ("8号楼电梯困人了,里面有个老人", "lift_trapped"),
    ("电梯突然停了,我们几个卡在电梯里", "lift_trapped"),
    ("上次电梯困人,今天电梯又困人了!", "lift_trapped"),
    ("家里水管爆了,水一直往外喷,地板全湿了", "flooding"),
    ("半夜厨房水管爆裂,家里被淹了", "flooding"),
    ("地下室进水了,水已经没过脚踝", "flooding"),
    ("暴雨后地下车库淹了,好多车泡在水里", "flooding"),
    ("楼上水漫金山,水顺着墙流到我家了", "flooding"),
    ("整栋楼停电了,电梯也停了,冰箱里东西要坏了", "power_outage"),
    ("全楼停电两个小时了还没来电", "power_outage"),
    ("小区全部停电了,物业电话打不通", "power_outage"),
    ("没有提前通知,整栋楼突然停电了", "power_outage"),
    ("物业连个公告都没有,整栋楼就停电了", "power_outage"),
    ("昨天晚上整栋楼停电了,到现在都没来电", "power_outage"),
    ("墙体开裂越来越严重,感觉随时会倒塌", "structural_danger"),
    ("阳台塌了一块,下面就是人行道", "structural_danger"),
    ("外墙砖砸下来了,差点砸到楼下的小孩", "structural_danger"),
    ("卧室天花板掉下来一块,差点砸到我", "structural_danger"),
    ("楼道电线裸露,我儿子刚才被电到了", "electric_shock"),
    ("小孩在楼道配电箱旁边触电了,快来人", "electric_shock"),
    ("楼下有人打起来了,还动了刀", "violence"),
    ("有人持刀在小区门口闹事", "violence"),
    ("邻居扬言要砍死我,我不敢出门", "violence"),
]

URGENT = [
    ("楼道里天天有人给电动车充电,万一着火怎么办", "fire"),
    ("楼道堆满杂物,一旦发生火灾后果不堪设想", "fire"),
    ("电动车在楼道充电存在很大的火灾隐患", "fire"),
    ("消防通道被占,着火了消防车都进不来", "fire"),
    ("听说要在10号楼旁边建充电桩,离窗户这么近,着火了怎么办!", "fire"),
    ("楼道里有一股烧焦的味道", "fire"),
    ("担心哪天电梯困人,老人怎么办", "lift_trapped"),
    ("外墙瓷砖掉下来砸到了停在下面的车", "structural_danger"),
    ("单元门口的电箱漏电,下雨天更明显", "electric_shock"),
    ("插座没有盖子,小孩容易触电", "electric_shock"),
    ("楼下独居的老人摔倒了起不来,敲门只听到喊救命", "person_fallen"),
    ("隔壁老太太在楼道里晕倒了", "person_fallen"),
    ("楼里有个独居老人好几天没出门了,敲门也没人应", "person_fallen"),
    ("两家因为停车差点打起来", "violence"),
    ("小区经常出现电梯困人事件,物业从来不管", "lift_trapped"),
    ("一到冬天,楼里的水管就爆裂", "flooding"),
    ("前天晚上我被困在电梯里半个小时,物业到现在都没给个说法", "lift_trapped"),
    ("外墙瓷砖大面积脱落,万一砸到人怎么办", "structural_danger"),
    (
        "我们楼道里每天晚上都有好几辆电动车在充电,电线从窗户里拉出来,物业说了也没用。这些电动车电池质量参差不齐,"
        "楼道又是唯一的逃生通道,晚上睡觉都不踏实,生怕哪天烧起来。希望尽快处理。",
        "fire",
    ),
]

NO_DANGER = [
    "上次电梯困人的事处理完了吗",
    "燃气公司来查过了,没有泄漏",
    "没有闻到煤气味了,谢谢关心",
    "以前楼道着过火,想问问灭火器什么时候换",
    "2019年小区车棚起火以后,物业才装了充电桩",
    "楼下烧烤摊天天浓烟,熏得窗户都不敢开",
    "对面工厂烟囱一直在冒烟,味道很呛",
    "客服让我拨打人工服务,打了半天没人接",
    "上次电梯困人的事谁负责?",
    "去年冬天水管爆裂,家里被淹,物业到现在都没赔偿",
    "小区在搞消防演练,3号楼前面冒烟是在演示,大家不用担心",
    "消防演习很成功。居民们学会了着火时用湿毛巾捂住口鼻",
    "去年地下车库被淹过,今年物业做了挡水板没有",
    "3号楼电梯困过人,物业一直不修",
    "不是着火,是邻居家在烧烤冒的烟",
    "电梯困人已经救出来了,但是电梯还没修",
    "【通知】本周六上午9:30在小区中心广场开展消防演习,模拟3号楼起火,着火点设在楼前空地,请勿惊慌",
    "本周六消防演练,届时3号楼会冒烟,请勿惊慌。",
    "停电通知:明天上午9点到12点整栋楼停电检修",
    "物业说昨晚全楼停电是线路检修,现在已经恢复供电了",
    "温馨提示:如闻到煤气味,请立即关闭阀门开窗通风",
    "燃气灶打不着火了,麻烦物业看一下",
    "燃气灶火苗发黄,是不是要换了",
    "楼道灯坏了好几天了,晚上上下楼黑漆漆的",
    "楼下饭店油烟太大,窗户都不敢开",
    "电梯又坏了,每天爬18楼",
    "加装电梯困难重重,业委会到底管不管",
    "两口子天天吵架,声音很大",
    "小区门口砍树了,绿化被破坏",
    "楼上装修太吵,敲门没人应",
    "休息被打扰,楼上小孩一直跑跳",
    "火灾报警器半夜乱响,吵得睡不着",
    "漏电保护器老跳闸,麻烦看一下",
    "楼上漏水,家里天花板一直滴水",
    "小区停电了吗?我家没电",
    "顶楼天沟堵了,雨水漫进楼道,楼梯口很滑",
    "",
]


@pytest.mark.parametrize(("text", "hazard"), EMERGENCIES)
def test_present_danger_is_an_emergency(text: str, hazard: str) -> None:
    finding = detect_urgency(text)
    assert finding is not None
    assert (finding.level, finding.hazard) == ("emergency", hazard)
    assert finding.evidence
    assert finding.evidence in text


@pytest.mark.parametrize(("text", "hazard"), URGENT)
def test_worries_and_same_day_hazards_are_urgent(text: str, hazard: str) -> None:
    finding = detect_urgency(text)
    assert finding is not None
    assert (finding.level, finding.hazard) == ("urgent", hazard)
    assert finding.evidence in text


@pytest.mark.parametrize("text", NO_DANGER)
def test_negated_past_resolved_planned_drill_and_ordinary_complaints_raise_nothing(text: str) -> None:
    assert detect_urgency(text) is None


# How residents' phones type the same punctuation: ，！？；： (escaped so the difference stays visible).
TO_FULL_WIDTH = str.maketrans({",": "\uff0c", "!": "\uff01", "?": "\uff1f", ";": "\uff1b", ":": "\uff1a"})


@pytest.mark.parametrize(
    "text", [text for text, _ in EMERGENCIES + URGENT] + [text for text in NO_DANGER if any(p in text for p in ",!?;:")]
)
def test_full_width_punctuation_reads_like_ascii(text: str) -> None:
    ascii_finding, full_width_finding = detect_urgency(text), detect_urgency(text.translate(TO_FULL_WIDTH))
    assert (full_width_finding and (full_width_finding.level, full_width_finding.hazard)) == (
        ascii_finding and (ascii_finding.level, ascii_finding.hazard)
    )


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("楼道灯没修\uff0c燃气味很重", "emergency"),  # the 没 belongs to the lamp, not to the gas
        ("我很担心\uff0c整栋楼停电了", "emergency"),  # the worry is a feeling, the outage is real
    ],
)
def test_a_full_width_comma_ends_the_clause_a_cue_applies_to(text: str, level: str | None) -> None:
    finding = detect_urgency(text)
    assert (finding and finding.level) == level


def test_every_hazard_has_present_and_absent_examples() -> None:
    found = {hazard for _, hazard in EMERGENCIES + URGENT}
    assert found == set(HAZARD_IDS)


@pytest.mark.parametrize(
    ("text", "must_name"),
    [
        ("楼道里一股很重的煤气味", ("燃气抢修", "开窗")),
        ("5号楼18楼着火了", ("119",)),
        ("8号楼电梯困人了", ("96333",)),
        ("有人持刀在小区门口闹事", ("110",)),
        ("楼下独居的老人摔倒了起不来", ("120",)),
        ("整栋楼停电了", ("95598", "96333")),
        ("家里水管爆了", ("总水阀", "电源")),
        ("楼道电线裸露,小孩被电到了", ("断电", "120")),
        ("阳台塌了一块", ("远离", "120")),
    ],
)
def test_the_notice_says_what_to_do_and_whom_to_call(text: str, must_name: tuple[str, ...]) -> None:
    finding = detect_urgency(text)
    assert finding is not None
    assert all(words in finding.notice for words in must_name), finding.notice


def test_a_worry_gets_prevention_advice_not_evacuation() -> None:
    worry = detect_urgency("楼道里天天有人给电动车充电,万一着火怎么办")
    fire = detect_urgency("楼道里电动车着火了")
    assert worry is not None
    assert fire is not None
    assert worry.notice != fire.notice
    assert "排查" in worry.notice
    assert "撤离" in fire.notice


def test_an_emergency_later_in_the_text_outranks_an_earlier_worry() -> None:
    text = "楼道里堆满纸箱,万一着火怎么办。现在3楼闻到一股很重的煤气味!"
    finding = detect_urgency(text)
    assert finding is not None
    assert (finding.level, finding.hazard, finding.evidence) == ("emergency", "gas_leak", "闻到一股很重的煤气味")


def test_the_first_of_several_worries_is_reported() -> None:
    finding = detect_urgency("担心哪天电梯困人,另外楼道有一股烧焦的味道")
    assert finding is not None
    assert (finding.level, finding.hazard) == ("urgent", "lift_trapped")


def test_a_hazard_far_into_a_long_unpunctuated_text_is_found() -> None:
    text = "我们小区的物业服务一直不太好" * 140 + "楼道里一股很重的煤气味"
    finding = detect_urgency(text)
    assert finding is not None
    assert finding.hazard == "gas_leak"


def test_non_text_is_rejected() -> None:
    with pytest.raises(TypeError, match="str"):
        detect_urgency(None)  # type: ignore[arg-type]


def test_a_trigger_the_prefilter_cannot_see_fails_loudly() -> None:
    assert _leading_characters(r"(?<!打不)着火(?!点)|(?:煤气|燃气)味") == {"着", "煤", "燃"}
    with pytest.raises(ValueError, match="literal"):
        _leading_characters(r"[0-9]+楼着火")
    with pytest.raises(ValueError, match="optional"):
        _leading_characters(r"(?:整个)?小区停电")
