"""The suggested-resolution composer: precedents, de-duplication, fallbacks, deadline and starting level."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone

import pytest

from linli.catalog import Catalog, CatalogEntry, EscalationLevel, load_catalog
from linli.errors import InvalidArgument
from linli.parties import OWNERS_COMMITTEE, PROPERTY_MANAGER, STREET_OFFICE
from linli.v1 import cases_pb2
from services.routing.suggestion import MAX_CHARS, Suggestion, compose_suggestion
from services.routing.urgency import UrgencyFinding, detect_urgency

LIGHT_FIXED = "物业当天派电工更换了3号楼楼道的声控灯,并检查了线路。"
LIGHT_FIXED_AGAIN = "物业派电工更换楼道声控灯,并检查线路;"
NOTICE_POSTED = "已在单元门口张贴维修公告。"


def precedent(
    case_id: str,
    score: float,
    resolution: str,
    *,
    party: str = PROPERTY_MANAGER,
    status: cases_pb2.CaseStatus = cases_pb2.CASE_STATUS_RESOLVED,
) -> cases_pb2.ScoredCase:
    case = cases_pb2.Case(id=case_id, complaint="楼道灯坏了", resolution=resolution, party=party, status=status)
    return cases_pb2.ScoredCase(case=case, score=score)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture
def light(catalog: Catalog) -> CatalogEntry:
    """A building-level entry of the property manager with a two-day SLA."""
    entry = catalog.get("stairwell_light_broken")
    assert (entry.party, entry.escalation_level, entry.sla_hours) == (PROPERTY_MANAGER, "building", 48)
    return entry


def emergency() -> UrgencyFinding:
    finding = detect_urgency("楼道电线裸露,我儿子刚才被电到了")
    assert finding is not None
    assert finding.level == "emergency"
    return finding


def urgent() -> UrgencyFinding:
    finding = detect_urgency("单元门口的电箱漏电,下雨天更明显")
    assert finding is not None
    assert finding.level == "urgent"
    return finding


def compose(
    entry: CatalogEntry | None,
    precedents: Sequence[cases_pb2.ScoredCase] = (),
    urgency: UrgencyFinding | None = None,
    *,
    party: str = PROPERTY_MANAGER,
    now: datetime | None = None,
) -> Suggestion:
    return compose_suggestion(party=party, entry=entry, precedents=precedents, urgency=urgency, now=now)


# ─── the body ──────────────────────────────────────────────────────────────────────────────────────────────────


def test_the_closest_precedent_of_the_party_is_quoted_with_deadline_and_level(light: CatalogEntry) -> None:
    suggestion = compose(light, [precedent("a", 0.91, LIGHT_FIXED)])
    assert suggestion.text == (
        f"参考办法:{LIGHT_FIXED}处理时限:48小时内(按权责清单「{light.name}」)。"
        "首先由楼组/网格处理,逾期升级至社区(居委会)。"
    )
    assert (suggestion.sla_hours, suggestion.escalation_level) == (48, "building")


def test_precedents_of_other_parties_below_the_floor_open_or_empty_are_not_quoted(light: CatalogEntry) -> None:
    ignored = [
        precedent("other-party", 0.97, "街道协调城管部门处理。", party=STREET_OFFICE),
        precedent("too-far", 0.62, "物业修剪了绿化带。"),
        precedent("still-open", 0.95, "物业已受理,正在排查。", status=cases_pb2.CASE_STATUS_OPEN),
        precedent("no-answer", 0.96, "   "),
    ]
    suggestion = compose(light, [*ignored, precedent("used", 0.88, LIGHT_FIXED)])
    assert suggestion.text.startswith(f"参考办法:{LIGHT_FIXED}处理时限")
    only_ignored = compose(light, ignored)
    assert only_ignored.text.startswith("处理依据:")


def test_a_near_identical_sentence_from_the_second_precedent_is_said_once(light: CatalogEntry) -> None:
    suggestion = compose(
        light, [precedent("b", 0.89, LIGHT_FIXED_AGAIN + NOTICE_POSTED), precedent("a", 0.91, LIGHT_FIXED)]
    )
    assert suggestion.text.startswith(f"参考办法:{LIGHT_FIXED}{NOTICE_POSTED}处理时限")
    assert suggestion.text.count("声控灯") == 1


def test_repeats_within_one_resolution_are_dropped_too(light: CatalogEntry) -> None:
    suggestion = compose(light, [precedent("a", 0.9, f"{LIGHT_FIXED}{LIGHT_FIXED_AGAIN}{NOTICE_POSTED}")])
    assert suggestion.text.startswith(f"参考办法:{LIGHT_FIXED}{NOTICE_POSTED}处理时限")


def test_full_width_punctuation_splits_and_ends_sentences_like_ascii(light: CatalogEntry) -> None:
    # ，and ； as residents' phones type them, escaped so the difference from , and ; stays visible.
    resolution = "物业当天派电工更换了声控灯\uff0c并检查了线路\uff1b已在单元门口张贴维修公告\uff1b"
    suggestion = compose(light, [precedent("a", 0.9, resolution), precedent("b", 0.89, NOTICE_POSTED)])
    assert suggestion.text.startswith(
        "参考办法:物业当天派电工更换了声控灯\uff0c并检查了线路\uff1b已在单元门口张贴维修公告。处理时限"
    )


def test_at_most_two_precedents_and_only_those_nearly_as_close_as_the_best(light: CatalogEntry) -> None:
    close = [
        precedent("a", 0.93, LIGHT_FIXED),
        precedent("b", 0.92, NOTICE_POSTED),
        precedent("c", 0.92, "物业在楼道加装了应急照明灯。"),
    ]
    assert compose(light, close).text.startswith(f"参考办法:{LIGHT_FIXED}{NOTICE_POSTED}处理时限")
    far_second = [precedent("a", 0.93, LIGHT_FIXED), precedent("b", 0.85, NOTICE_POSTED)]
    assert NOTICE_POSTED not in compose(light, far_second).text


def test_a_mostly_scrubbed_sentence_is_left_out(light: CatalogEntry) -> None:
    suggestion = compose(light, [precedent("a", 0.9, f"{LIGHT_FIXED}联系人[姓名][手机号]。")])
    assert "[手机号]" not in suggestion.text
    assert LIGHT_FIXED in suggestion.text


def test_a_resolution_that_is_only_personal_data_falls_back_to_the_catalog(light: CatalogEntry) -> None:
    suggestion = compose(light, [precedent("a", 0.9, "联系人[姓名],电话[手机号]。")])
    assert suggestion.text.startswith(f"处理依据:{light.basis}")


def test_personal_data_left_in_a_resolution_is_scrubbed(light: CatalogEntry) -> None:
    pytest.importorskip("linli.pii")
    resolution = "物业电工(电话13812345678)当天更换了声控灯。"
    suggestion = compose(light, [precedent("a", 0.9, resolution)])
    assert "13812345678" not in suggestion.text
    assert "[手机号]" in suggestion.text
    assert "当天更换了声控灯" in suggestion.text


def test_without_precedents_the_catalog_basis_explains_the_responsibility(light: CatalogEntry) -> None:
    suggestion = compose(light)
    assert suggestion.text.startswith(f"处理依据:{light.basis}")
    assert suggestion.text.endswith("首先由楼组/网格处理,逾期升级至社区(居委会)。")


def test_an_entry_of_another_party_is_named_as_the_responsible_one(catalog: Catalog, light: CatalogEntry) -> None:
    routed_elsewhere = compose(light, party=STREET_OFFICE)
    assert routed_elsewhere.text.startswith("注意:按权责清单「楼道灯等共用照明损坏」,此事由物业主责,请街道/社区核实后")
    helper_entry = next(entry for entry in catalog.entries if entry.co_parties)
    helper = helper_entry.co_parties[0]
    assisting = compose(helper_entry, party=helper)
    assert "协办,请配合处理" in assisting.text


@pytest.mark.parametrize(
    ("party", "expected"),
    [
        (PROPERTY_MANAGER, "建议:请物业派人到场核实情况"),
        (OWNERS_COMMITTEE, "建议:请业委会核实情况"),
        (STREET_OFFICE, "建议:请社区网格员核实情况"),
        ("water_company", "建议:请water_company核实情况"),
    ],
)
def test_with_neither_precedents_nor_entry_the_party_gets_a_generic_instruction(party: str, expected: str) -> None:
    suggestion = compose(None, [precedent("x", 0.95, "别的一方的办法。", party="someone_else")], party=party)
    assert suggestion.text.startswith(expected)
    assert "处理时限:72小时内(默认时限)。" in suggestion.text


# ─── deadline and level ────────────────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("entry_sla", "urgency", "expected"),
    [
        (48, None, 48),
        (48, "urgent", 24),
        (48, "emergency", 2),
        (12, "urgent", 12),
        (1, "emergency", 1),
        (None, None, 72),
        (None, "urgent", 24),
        (None, "emergency", 2),
    ],
)
def test_sla_is_the_entry_s_shortened_for_urgency(
    light: CatalogEntry, entry_sla: int | None, urgency: str | None, expected: int
) -> None:
    entry = None if entry_sla is None else dataclasses.replace(light, sla_hours=entry_sla)
    finding = {"urgent": urgent(), "emergency": emergency(), None: None}[urgency]
    assert compose(entry, urgency=finding).sla_hours == expected


def test_a_shortened_deadline_says_why_and_what_the_catalog_allows(light: CatalogEntry) -> None:
    for finding, expected in (
        (emergency(), "处理时限:2小时内(紧急,权责清单「楼道灯等共用照明损坏」原为48小时)。"),
        (urgent(), "处理时限:24小时内(加急,权责清单「楼道灯等共用照明损坏」原为48小时)。"),
    ):
        assert expected in compose(light, urgency=finding).text


@pytest.mark.parametrize(
    ("entry_level", "urgency", "expected"),
    [
        ("building", None, "building"),
        ("building", "urgent", "building"),
        ("building", "emergency", "community"),
        ("community", "emergency", "community"),
        ("street", "emergency", "street"),
        ("street", None, "street"),
        (None, None, "community"),
        (None, "emergency", "community"),
    ],
)
def test_level_is_the_entry_s_and_an_emergency_starts_at_community_or_above(
    light: CatalogEntry, entry_level: EscalationLevel | None, urgency: str | None, expected: str
) -> None:
    entry = None if entry_level is None else dataclasses.replace(light, escalation_level=entry_level)
    finding = {"urgent": urgent(), "emergency": emergency(), None: None}[urgency]
    assert compose(entry, urgency=finding).escalation_level == expected


def test_level_sentence_names_the_start_and_the_next_rung(light: CatalogEntry) -> None:
    assert compose(light, urgency=emergency()).text.endswith("紧急情况直接由社区(居委会)处理,逾期升级至街道。")
    top = dataclasses.replace(light, escalation_level="street")
    assert compose(top).text.endswith("首先由街道处理。")


def test_an_urgent_ticket_starts_with_its_notice(light: CatalogEntry) -> None:
    finding = emergency()
    assert compose(light, urgency=finding).text.startswith(f"【紧急】{finding.notice}处理依据:")
    finding = urgent()
    assert compose(light, [precedent("a", 0.9, LIGHT_FIXED)], finding).text.startswith(
        f"【加急】{finding.notice}参考办法:{LIGHT_FIXED}"
    )
    assert "【" not in compose(light).text


def test_with_a_submission_time_the_deadline_is_also_a_time_of_day(light: CatalogEntry) -> None:
    shanghai = timezone(timedelta(hours=8))
    text = compose(light, urgency=emergency(), now=datetime(2026, 11, 5, 22, 30, tzinfo=shanghai)).text
    assert "处理时限:2小时内,即11月6日00:30前(紧急," in text


# ─── length, determinism, bad input ────────────────────────────────────────────────────────────────────────────


def test_a_long_composition_is_cut_to_whole_sentences_and_keeps_the_deadline(light: CatalogEntry) -> None:
    sentences = [
        "物业当天派电工到场,逐层检查了3号楼楼道的照明线路和开关面板。",
        "发现声控开关受潮短路,已全部更换为防水型感应开关并做了绝缘处理。",
        "同时把一楼到六楼老化的灯座和灯泡一并更换成了节能的LED灯具。",
        "对配电箱里松动的接线端子进行了紧固,并更换了一只烧黑的空气开关。",
        "维修完成后,电工陪同楼组长逐层试灯,确认每一层的灯都能正常亮起。",
        "楼组长在业主群里发布了维修结果,并提醒大家发现问题及时报修。",
        "物业把这栋楼的照明设施列入每月巡检清单,安排专人定期检查。",
        "一周后回访,居民反映晚上上下楼明亮安全,对处理结果表示满意。",
    ]
    long_resolution = "".join(sentences)
    suggestion = compose(light, [precedent("a", 0.9, long_resolution)], emergency())
    assert len(suggestion.text) <= MAX_CHARS
    assert "".join(sentences[:2]) in suggestion.text
    assert sentences[-1] not in suggestion.text
    assert "处理时限:2小时内" in suggestion.text
    assert suggestion.text.endswith("逾期升级至街道。")


def test_a_first_sentence_longer_than_the_room_is_cut_with_an_ellipsis(light: CatalogEntry) -> None:
    endless = "物业" + "反复检查线路" * 80 + "。"
    suggestion = compose(light, [precedent("a", 0.9, endless)], emergency())
    assert len(suggestion.text) <= MAX_CHARS
    assert "…处理时限" in suggestion.text


def test_the_same_inputs_in_any_order_give_the_same_text(light: CatalogEntry) -> None:
    cases = [precedent("b", 0.9, NOTICE_POSTED), precedent("a", 0.9, LIGHT_FIXED), precedent("c", 0.7, "无关。")]
    first = compose(light, cases)
    assert all(compose(light, order) == first for order in (cases[::-1], [cases[1], cases[2], cases[0]]))
    assert first.text.startswith(f"参考办法:{LIGHT_FIXED}{NOTICE_POSTED}")  # tie broken by case id


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"party": ""}, "party"),
        ({"party": "物业"}, "party"),
        ({"now": datetime(2026, 11, 5, 9, 0)}, "now"),  # naive: the case under test
        ({"min_similarity": 1.5}, "min_similarity"),
    ],
)
def test_bad_arguments_name_the_field(light: CatalogEntry, arguments: dict[str, object], field: str) -> None:
    call: dict[str, object] = {
        "party": PROPERTY_MANAGER,
        "entry": light,
        "precedents": [],
        "urgency": None,
        "now": datetime(2026, 11, 5, 9, 0, tzinfo=UTC),
    }
    with pytest.raises(InvalidArgument) as raised:
        compose_suggestion(**{**call, **arguments})  # type: ignore[arg-type]
    assert [violation.field for violation in raised.value.violations] == [field]
