"""The duplicate threshold, measured with the real m3e-small on neighbours' complaints about one problem or two.

The default (0.86) was picked on these pairs: the same problem in other words scores 0.84-0.97, two different
problems of one place at most 0.84; the model cannot hear that "3号楼" and "5号楼" differ (0.95), which is what the
place guard is for. A merge hides a ticket under another, so a missed duplicate is the cheaper mistake.
"""

from __future__ import annotations

import pytest

from linli.embedding import SentenceTransformerEmbedder
from services.intake.settings import IntakeSettings
from services.intake.tickets.duplicates import same_place

pytestmark = pytest.mark.integration

SAME_PROBLEM = [
    ("3号楼2单元楼道的灯坏了好几天了,晚上上下楼黑漆漆的", "3号楼2单元的楼道灯不亮了,晚上走楼梯什么都看不见"),
    ("小区东门口的路灯坏了,晚上黑乎乎的", "东门那边路灯一直不亮,晚上回家很不安全"),
    ("5号楼电梯又坏了,停在3楼不动", "5号楼的电梯今天早上坏了,一直停着不动,老人下不了楼"),
    ("楼下垃圾桶好几天没人清理了,臭气熏天", "垃圾房的垃圾堆了好几天都没清运,味道太大了"),
    ("地下车库入口积水很深,车开不进去", "车库门口又积水了,水都快没过轮胎了"),
    ("楼上装修每天早上七点就开始电钻,吵得没法睡", "楼上装修一大早就打电钻,七点不到就开始,太吵了"),
    ("小区里的健身器材坏了,单杠松动有危险", "健身区那个单杠晃得厉害,孩子玩很危险"),
    ("12号楼门口的下水道堵了,污水漫出来了", "12号楼前面下水道堵住了,脏水流得到处都是"),
    ("消防通道被私家车占了,消防车进不来", "有车一直停在消防通道上,万一着火怎么办"),
    ("小区门禁坏了,谁都能随便进出", "大门门禁刷卡没反应,外人随便进"),
    ("小区里有只流浪狗很凶,已经追咬了好几个孩子", "小区最近有条流浪狗见人就追,我家孩子差点被咬"),
    ("8号楼前面的水管爆了,水哗哗地往外冒", "8号楼楼下水管破了,地上全是水,一直在冒"),
    ("晚上十点多广场舞音响还开得很大声", "广场舞到晚上十点还在放音乐,吵得孩子没法睡觉"),
    ("小区停车位被外来车辆占满了,业主都没地方停", "外面的车开进来占了业主车位,我们下班回来停不了车"),
    ("二号楼外墙瓷砖掉下来了,差点砸到人", "2号楼墙上的瓷砖往下掉,刚才差点砸到路过的老人"),
    ("小区的自来水发黄,有股铁锈味", "今天家里水龙头放出来的水是黄的,还有锈味"),
    ("楼道里电动车充电,电线从窗户拉下来,很危险", "有人从家里拉电线到楼下给电动车充电,太危险了"),
    ("物业收了停车费但是道闸一直坏着", "停车场道闸坏了好久,物业照样收停车费"),
]
DIFFERENT_PROBLEMS = [
    ("3号楼2单元楼道的灯坏了好几天了,晚上上下楼黑漆漆的", "3号楼电梯坏了,停在5楼不动"),
    ("小区东门口的路灯坏了,晚上黑乎乎的", "小区东门口有人摆摊卖菜,占了人行道"),
    ("5号楼电梯又坏了,停在3楼不动", "5号楼楼顶漏水,顶楼住户家里天花板都湿了"),
    ("楼下垃圾桶好几天没人清理了,臭气熏天", "楼下饭店油烟太大,窗户都不敢开"),
    ("地下车库入口积水很深,车开不进去", "地下车库的灯坏了一大片,黑漆漆的"),
    ("楼上装修每天早上七点就开始电钻,吵得没法睡", "楼上漏水把我家卫生间天花板泡坏了"),
    ("小区里的健身器材坏了,单杠松动有危险", "小区里的儿童滑梯坏了,有个缺口会划伤孩子"),
    ("12号楼门口的下水道堵了,污水漫出来了", "12号楼门口的绿化带被人毁了种菜"),
    ("消防通道被私家车占了,消防车进不来", "楼道里堆满了杂物,消防隐患很大"),
    ("小区门禁坏了,谁都能随便进出", "物业费涨价没有开业主大会表决"),
    ("3号楼楼道灯坏了", "5号楼楼道灯坏了"),
    ("小区东门路灯坏了", "小区西门路灯坏了"),
    ("物业服务太差,保安经常不在岗", "业委会换届选举程序不公开"),
    ("楼道里有人养鸽子,到处是鸽子粪", "楼道里有人堆放电动车充电,很危险"),
    ("小区里有只流浪狗很凶,已经追咬了好几个孩子", "邻居家养的狗半夜一直叫,吵得睡不着"),
    ("8号楼前面的水管爆了,水哗哗地往外冒", "8号楼停水了,也没有提前通知"),
    ("晚上十点多广场舞音响还开得很大声", "小区门口的KTV晚上很吵"),
    ("小区停车位被外来车辆占满了,业主都没地方停", "小区停车费涨价了,没有征求业主意见"),
    ("二号楼外墙瓷砖掉下来了,差点砸到人", "二号楼外墙渗水,家里墙面发霉"),
    ("小区的自来水发黄,有股铁锈味", "小区二次供水水箱多久没清洗了"),
    ("楼道里电动车充电,电线从窗户拉下来,很危险", "电动车充电桩坏了好几个,没法充电"),
    ("物业收了停车费但是道闸一直坏着", "物业公司合同到期了,业委会要不要重新招标"),
]


def linked(embedder: SentenceTransformerEmbedder, pairs: list[tuple[str, str]], threshold: float) -> list[bool]:
    """Whether triage would link each pair: similar enough, and naming no different place."""
    decisions = []
    for first, second in pairs:
        vectors = embedder.embed([first, second])
        similarity = float(vectors[0] @ vectors[1])
        decisions.append(similarity >= threshold and same_place(first, second))
    return decisions


def test_the_default_threshold_links_duplicates_and_keeps_different_problems_apart(
    embedder: SentenceTransformerEmbedder,
) -> None:
    threshold = IntakeSettings().duplicate_threshold
    recall = sum(linked(embedder, SAME_PROBLEM, threshold)) / len(SAME_PROBLEM)
    false_links = [
        pair
        for pair, link in zip(DIFFERENT_PROBLEMS, linked(embedder, DIFFERENT_PROBLEMS, threshold), strict=True)
        if link
    ]
    assert recall >= 0.9, f"only {recall:.0%} of duplicates linked at {threshold}"
    assert false_links == [], f"different problems linked at {threshold}: {false_links}"
