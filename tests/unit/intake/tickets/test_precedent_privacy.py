"""What residents and workers read of a stored routing decision: counts and summaries, or scrubbed precedents."""

from __future__ import annotations

from typing import Any

from services.intake.tickets.precedent_privacy import history_note_for_reader, resident_summary, routing_for_reader

OLD_NOTE = "2 件相似已办结案例中 2 件由物业办结,最相似的「张伟说楼道灯坏了」相似度 0.93。判定由物业处理,把握 90%。"
STORED: dict[str, Any] = {
    "party": "property_manager",
    "rationale": {
        "summary": OLD_NOTE,
        "catalog_entry": {"entry_id": "stairwell_light_broken", "name": "楼道灯损坏", "party": "property_manager"},
    },
    "suggested_resolution": "参考处理:已联系李建华,明天上门维修",
    "similar_cases": [
        {
            "case": {"id": "c-1", "complaint": "张伟说楼道灯坏了", "resolution": "已联系李建华,明天上门维修"},
            "score": 0.93,
        },
        {"case": {"id": "c-2", "complaint": "楼道灯不亮", "resolution": "换了灯泡"}, "score": 0.9},
    ],
}


def test_a_resident_reads_the_entry_the_count_and_the_party_but_no_precedent() -> None:
    shown = routing_for_reader(STORED, sees_precedents=False)

    assert shown["similar_cases"] == []
    assert shown["rationale"]["summary"] == "权责清单「楼道灯损坏」由物业负责;参考了 2 件相似的已办结案例。由物业处理。"
    assert shown["suggested_resolution"] == "参考处理:已联系[姓名],明天上门维修"
    assert STORED["similar_cases"][0]["case"]["complaint"] == "张伟说楼道灯坏了"  # the stored decision is untouched


def test_a_worker_reads_every_precedent_scrubbed() -> None:
    shown = routing_for_reader(STORED, sees_precedents=True)

    assert [hit["case"]["complaint"] for hit in shown["similar_cases"]] == ["[姓名]说楼道灯坏了", "楼道灯不亮"]
    assert shown["similar_cases"][0]["case"]["resolution"] == "已联系[姓名],明天上门维修"
    assert "「[姓名]说楼道灯坏了」" in shown["rationale"]["summary"]


def test_an_abstained_decision_tells_the_resident_a_person_dispatches_it() -> None:
    assert resident_summary({"abstained": True, "party": ""}) == "正在由工作人员人工分派。"


def test_an_old_history_note_quoting_a_precedent_is_rewritten_for_residents_and_scrubbed_for_workers() -> None:
    for_resident = history_note_for_reader(OLD_NOTE, STORED, sees_precedents=False)
    for_worker = history_note_for_reader(OLD_NOTE, STORED, sees_precedents=True)

    assert for_resident == resident_summary(STORED)
    assert "张伟" not in for_worker
    assert "「[姓名]说楼道灯坏了」" in for_worker
    assert history_note_for_reader("已联系王师傅", STORED, sees_precedents=False) == "已联系王师傅"
