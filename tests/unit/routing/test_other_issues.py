"""一单多事: the further problems of one message, each for another catalog entry than the decision's."""

from __future__ import annotations

import pytest

from linli.catalog import Catalog, load_catalog
from services.routing.other_issues import (
    MAX_OTHER_ISSUES,
    Bar,
    DetectionRules,
    find_other_issues,
    split_passages,
    without_opener,
)

LIGHT_AND_FIRE_LANE = "楼道灯坏了好几天了，另外小区门口总有车停在消防通道上"
FIVE_PROBLEMS = (
    "想反映几个问题：1、楼道灯坏了好几天了；2、小区门口总有车停在消防通道上；3、电梯又坏了，天天爬楼；"
    "4、楼上装修天天电钻响；5、垃圾桶满了没人清运，臭死了"
)
# Anything the matcher scores at all is raised: only what carries no topic can stay out.
LOOSEST = DetectionRules(after_connective=Bar(0, 0, 0), plain_sentence=Bar(0, 0, 0), min_margin=0)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def test_a_second_problem_for_another_party_is_one_other_issue_with_its_entry_and_excerpt(catalog: Catalog) -> None:
    others = find_other_issues(LIGHT_AND_FIRE_LANE, catalog, catalog.get("stairwell_light_broken"))
    assert [(o.entry.id, o.entry.party) for o in others] == [("fire_lane_blocked", "street_office")]
    assert others[0].excerpt == "小区门口总有车停在消防通道上"  # "另外" tied it to the message: a split ticket drops it
    assert 0 < others[0].score <= 1


def test_when_the_decision_rests_on_the_second_problem_the_first_is_the_other_issue(catalog: Catalog) -> None:
    others = find_other_issues(LIGHT_AND_FIRE_LANE, catalog, catalog.get("fire_lane_blocked"))
    assert [(o.entry.id, o.excerpt) for o in others] == [("stairwell_light_broken", "楼道灯坏了好几天了")]


def test_without_a_decision_entry_the_first_passage_states_the_main_problem(catalog: Catalog) -> None:
    others = find_other_issues(LIGHT_AND_FIRE_LANE, catalog, None)
    assert [o.entry.id for o in others] == ["fire_lane_blocked"]


@pytest.mark.parametrize(
    ("text", "main"),
    [
        (
            "3号楼楼道的灯坏了好几天了。晚上上下楼黑漆漆的，老人摔了一跤。物业说在等电工，到现在还没来。麻烦尽快处理，谢谢！",
            "stairwell_light_broken",
        ),
        (
            "电梯又坏了！十几楼天天爬楼腿都断了。报修三次了说在等配件，家里还有老人。什么时候能修好？",
            "lift_breakdown",
        ),
        ("消防车道划了黄线还是有人停，停了也没人管。真着火了消防车怎么进来？", "fire_lane_blocked"),
    ],
)
def test_one_problem_told_in_several_sentences_raises_no_other_issue(catalog: Catalog, text: str, main: str) -> None:
    assert len(split_passages(text)) > 1
    assert find_other_issues(text, catalog, catalog.get(main)) == []


@pytest.mark.parametrize("closing", ["麻烦尽快处理，谢谢", "希望尽快处理！谢谢物业了", "谢谢！"])
def test_a_polite_closing_is_never_an_issue(catalog: Catalog, closing: str) -> None:
    text = f"楼道灯坏了好几天了。{closing}"
    for main in (catalog.get("stairwell_light_broken"), None):
        assert find_other_issues(text, catalog, main, rules=LOOSEST) == []


def test_at_most_three_other_issues_strongest_first(catalog: Catalog) -> None:
    main = catalog.get("stairwell_light_broken")
    others = find_other_issues(FIVE_PROBLEMS, catalog, main)
    assert len(others) == MAX_OTHER_ISSUES
    assert [o.score for o in others] == sorted((o.score for o in others), reverse=True)
    assert len({o.entry.id for o in others}) == len(others)
    # Four other problems are stated clearly enough; the weakest is left out.
    assert len(find_other_issues(FIVE_PROBLEMS, catalog, main, limit=10)) == 4


def test_the_decisions_own_entry_is_never_listed(catalog: Catalog) -> None:
    text = "楼道灯坏了好几天了。另外楼道的灯也不亮，晚上摸黑上楼。还有，小区门口总有车停在消防通道上"
    for entry_id in ("stairwell_light_broken", "fire_lane_blocked"):
        others = find_other_issues(text, catalog, catalog.get(entry_id), rules=LOOSEST)
        assert others
        assert entry_id not in {o.entry.id for o in others}


def test_one_entry_is_listed_once_with_its_strongest_passage(catalog: Catalog) -> None:
    text = "楼道灯坏了好几天了。另外门口有车停在消防通道上。还有，消防车道上天天停满了车，消防车根本进不来"
    others = find_other_issues(text, catalog, catalog.get("stairwell_light_broken"))
    assert [o.entry.id for o in others] == ["fire_lane_blocked"]
    scores = [dict(catalog.match(p.excerpt))[catalog.get("fire_lane_blocked")] for p in split_passages(text)[1:]]
    assert others[0].score == max(scores)


def test_a_single_passage_is_the_main_problem_whatever_it_matches(catalog: Catalog) -> None:
    # The decision's entry may come from the entry model while the keywords point elsewhere: still one problem.
    lift = catalog.get("lift_breakdown")
    assert find_other_issues("小区门口总有车停在消防通道上", catalog, lift, rules=LOOSEST) == []


def test_passages_split_at_sentence_ends_connectives_and_enumerations() -> None:
    passages = split_passages(FIVE_PROBLEMS)
    assert [p.excerpt for p in passages] == [
        "想反映几个问题：1、楼道灯坏了好几天了",
        "2、小区门口总有车停在消防通道上",
        "3、电梯又坏了，天天爬楼",
        "4、楼上装修天天电钻响",
        "5、垃圾桶满了没人清运，臭死了",
    ]
    assert [p.after_connective for p in passages] == [False, True, True, True, True]
    assert [p.excerpt for p in split_passages("楼道灯坏了好几天另外，门口停满了车！！其次垃圾没人收")] == [
        "楼道灯坏了好几天",
        "另外，门口停满了车",
        "其次垃圾没人收",
    ]


def test_passages_do_not_split_inside_a_matter() -> None:
    # "第二天" and "2.5米" are no enumeration, a mid-clause "还有" goes on about the same thing.
    assert [p.excerpt for p in split_passages("电梯第二天又坏了，门口2.5米宽的路被占了，里面还有人抽烟")] == [
        "电梯第二天又坏了，门口2.5米宽的路被占了，里面还有人抽烟"
    ]
    # A clause that starts with "还有" opens another matter.
    assert len(split_passages("楼道很脏，还有，楼下的电瓶车乱停也挡路")) == 2


def test_short_pieces_join_a_neighbour() -> None:
    assert [p.excerpt for p in split_passages("急！楼道灯坏了好几天了。谢谢！")] == ["急！楼道灯坏了好几天了。谢谢"]
    assert split_passages("  \n ") == []


def test_keywords_in_names_the_entrys_keywords_the_text_holds(catalog: Catalog) -> None:
    entry = catalog.get("fire_lane_blocked")
    found = catalog.keywords_in("门口的消防通道被车堵了", entry)
    assert found
    assert set(found) <= set(entry.keywords)
    assert catalog.keywords_in("我怕到时候说不清楚", entry) == ()


def test_only_the_first_passages_of_a_long_message_are_scanned(catalog: Catalog) -> None:
    main = catalog.get("stairwell_light_broken")
    filler = "楼道灯坏了好几天了，晚上黑漆漆的。" * 30
    assert [o.entry.id for o in find_other_issues(LIGHT_AND_FIRE_LANE + "。" + filler, catalog, main)] == [
        "fire_lane_blocked"
    ]
    # Each passage costs a catalog match: one that starts past the first 400 characters is not looked at.
    assert find_other_issues(filler + LIGHT_AND_FIRE_LANE, catalog, main) == []


def test_an_excerpt_drops_the_connective_that_tied_it_to_the_message() -> None:
    assert without_opener("另外，小区门口总有车停在消防通道上") == "小区门口总有车停在消防通道上"
    assert without_opener("还有小区的公共收益从来不公示") == "小区的公共收益从来不公示"
    assert without_opener("2、垃圾没人收") == "垃圾没人收"
    assert without_opener("第二点：垃圾没人收") == "垃圾没人收"
    assert without_opener("楼道灯坏了好几天了") == "楼道灯坏了好几天了"  # no connective: as written
    assert without_opener("另外") == "另外"  # nothing after it: better the word than an empty ticket
