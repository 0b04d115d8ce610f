"""The PII scrubber: scores on the labelled set, each type and placeholder, and the look-alikes that must survive."""

from __future__ import annotations

from collections import Counter
from itertools import pairwise

import pytest

from bench.pii_scrub import EXAMPLES, Evaluation, Example, evaluate, load_examples
from linli.pii import PLACEHOLDERS, PiiType, find_pii, scrub


@pytest.fixture(scope="module")
def examples() -> list[Example]:
    return load_examples(EXAMPLES)


@pytest.fixture(scope="module")
def evaluation(examples: list[Example]) -> Evaluation:
    return evaluate(examples)


def test_the_labelled_set_covers_every_type_and_many_look_alikes(examples: list[Example]) -> None:
    assert len(examples) >= 220
    assert sum(1 for example in examples if not example.pii) >= 60
    per_type = Counter(kind for example in examples for kind, _ in example.pii)
    assert {kind: n for kind, n in per_type.items() if n < 15} == {}
    assert set(per_type) == set(PiiType)


def test_overall_precision_and_recall_reach_the_target(evaluation: Evaluation) -> None:
    assert evaluation.overall.precision >= 0.95, evaluation.mistakes
    assert evaluation.overall.recall >= 0.95, evaluation.mistakes


def test_every_type_is_found_at_least_nine_times_in_ten(evaluation: Evaluation) -> None:
    recalls = {kind.value: round(tally.recall, 3) for kind, tally in evaluation.by_type.items()}
    assert {kind: recall for kind, recall in recalls.items() if recall < 0.9} == {}


def test_no_look_alike_line_loses_anything(evaluation: Evaluation) -> None:
    assert evaluation.negative_lines >= 60
    assert evaluation.negative_false_positives == 0, evaluation.mistakes


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        ("有事打我电话13812345678", "有事打我电话[手机号]"),
        ("电话+86 138-0013-8000", "电话[手机号]"),
        ("联系我: 139 1234 5678", "联系我: [手机号]"),
        ("手机１３８１２３４５６７８,打不通就发短信", "手机[手机号],打不通就发短信"),
        ("联系电话:021-62345678", "联系电话:[座机]"),
        ("物业电话(0571)8765432没人接", "物业电话[座机]没人接"),
        ("座机87654321", "座机[座机]"),
        ("身份证号33010619800512341X已提交", "身份证号[身份证号]已提交"),
        ("沪A12345占了消防通道", "[车牌]占了消防通道"),
        ("浙B·D12345长期占着充电桩", "[车牌]长期占着充电桩"),
        ("邮箱wangjianguo1975@163.com", "邮箱[邮箱]"),
        ("邮箱13812345678@163.com", "邮箱[邮箱]"),
        ("加我vx: lilei_2019", "加我vx: [微信号]"),
        ("微信号:wxid_8k2j3h4g5l", "微信号:[微信号]"),
        ("3号楼2单元501室漏水", "[房号]漏水"),
        ("5栋1102的业主", "[房号]的业主"),
        ("12幢3单元602卫生间漏水", "[房号]卫生间漏水"),
        ("2号楼1002室门口", "[房号]门口"),
        ("7-2-301的住户", "[房号]的住户"),
        ("楼上602的空调滴水", "楼上[房号]的空调滴水"),
        ("王阿姨家的狗", "[姓名]家的狗"),
        ("李先生说周末来修", "[姓名]说周末来修"),
        ("张师傅两次都没来", "[姓名]两次都没来"),
        ("老刘堆了纸箱", "[姓名]堆了纸箱"),
        ("小陈是新来的管家", "[姓名]是新来的管家"),
        ("刘某某私自种菜", "[姓名]私自种菜"),
        ("赵女士、陈老师和周大爷都反映了", "[姓名]、[姓名]和[姓名]都反映了"),
        ("业主陈静反映器材坏了", "业主[姓名]反映器材坏了"),
        ("联系人:张伟,电话18612345678", "联系人:[姓名],电话[手机号]"),
    ],
)
def test_each_kind_of_personal_data_gets_its_placeholder(text: str, scrubbed: str) -> None:
    assert scrub(text) == scrubbed


@pytest.mark.parametrize(
    "text",
    [
        "3号楼的灯坏了",
        "5栋楼下的垃圾桶满了",
        "3号楼2单元的楼道灯坏了",
        "2024年3月5日晚上10点以后还在施工",
        "物业费300元,加装电梯每户1.5万",
        "装修押金13800元一直不退",
        "一共3栋楼,2部电梯,住了12户",
        "打了12345、110、119和96196都没用",
        "客服400-820-8820打不通",
        "6楼的住户反映水压低",
        "物业经理和楼组长都来看过",
        "高楼层白天水压低,马路对面买菜不方便",
        "订单号20240305123,工单号WX202403051234",
        "2023年换了物业",
        "通知里的手机号已经打码成138****5678",
        "保安队长、门卫大爷、保洁阿姨和维修师傅都说不归他们管",
        "谢谢师傅们,由于某种原因拖了一周",
    ],
)
def test_look_alikes_that_routing_needs_survive_unchanged(text: str) -> None:
    assert find_pii(text) == []
    assert scrub(text) == text


def test_every_type_has_its_own_placeholder() -> None:
    assert set(PLACEHOLDERS) == set(PiiType)
    assert len(set(PLACEHOLDERS.values())) == len(PiiType)
    assert all(placeholder.startswith("[") and placeholder.endswith("]") for placeholder in PLACEHOLDERS.values())


def test_spans_point_into_the_original_text_in_order(examples: list[Example]) -> None:
    text = "王阿姨住3号楼2单元501室,手机１３８１２３４５６７８,车牌沪A12345"
    spans = find_pii(text)
    assert [(span.type, text[span.start : span.end]) for span in spans] == [
        (PiiType.NAME, "王阿姨"),
        (PiiType.ROOM, "3号楼2单元501室"),
        (PiiType.MOBILE, "１３８１２３４５６７８"),
        (PiiType.PLATE, "沪A12345"),
    ]
    assert spans[0].placeholder == "[姓名]"
    for example in examples:
        found = find_pii(example.text)
        assert all(a.end <= b.start for a, b in pairwise(found)), example.text


def test_scrubbing_twice_changes_nothing_more(examples: list[Example]) -> None:
    for example in examples:
        once = scrub(example.text)
        assert scrub(once) == once, once


def test_a_text_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(TypeError, match="needs a str"):
        scrub(13812345678)  # type: ignore[arg-type]
    assert scrub("") == ""
