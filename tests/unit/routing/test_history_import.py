"""`linli history import`: 12345 exports read in every format, scrubbed, boilerplate dropped, who acted inferred."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from services.cli.main import main
from services.routing.history.importing import import_history, labelled_items
from services.routing.history.labelling import infer_labels
from services.routing.history.reading import read_history
from services.routing.history.rules import evidence, is_boilerplate

CHINESE_HEADERS = ["留言编号", "留言主题", "留言详情", "留言时间", "答复意见", "答复时间"]
MESSAGES = [
    ("m1", "路灯不亮", "我是张伟，电话13812345678，小区路灯坏了一个月", "经查，该小区物业公司已于3月5日更换路灯。"),
    ("m2", "续聘物业", "小区物业合同到期了，业主们想续聘，怎么办", "业主大会表决通过续聘，合同已签订。"),
    ("m3", "违建", "楼下有人在绿地上搭了违建，挡住通道", "城管执法中队已依法拆除违建。"),
    ("m4", "噪音", "晚上有人在广场跳舞到十一点", "网友：您好！留言已收悉"),
    ("m5", "咨询", "这事归谁管", "您的留言已收悉！我们已将您反映的问题转相关部门进行处理，敬请关注后续回复，谢谢！"),
    ("m6", "协调", "垃圾没人清", "该问题涉及多方，具体情况较为复杂，目前尚无定论，后续视情况再作安排并告知结果。"),
]


def _rows() -> list[list[str]]:
    sent, answered = "2019-04-24 16:03:40", "2019-05-09 09:49:10"
    return [[mid, title, text, sent, reply, answered] for mid, title, text, reply in MESSAGES]


def write_csv(path: Path, encoding: str = "utf-8-sig") -> Path:
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CHINESE_HEADERS)
        writer.writerows(_rows())
    return path


def write_xlsx(path: Path) -> Path:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(CHINESE_HEADERS)
    for row in _rows():
        sheet.append(row)
    workbook.save(path)
    return path


def write_jsonl(path: Path) -> Path:
    fields = ["id", "title", "text", "time", "reply", "reply_time"]
    lines = [json.dumps(dict(zip(fields, row, strict=True)), ensure_ascii=False) for row in _rows()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("writer", [write_csv, write_xlsx, write_jsonl])
def test_every_export_format_reads_the_same_rows(tmp_path: Path, writer: object) -> None:
    suffix = {write_csv: ".csv", write_xlsx: ".xlsx", write_jsonl: ".jsonl"}[writer]  # type: ignore[index]
    path = writer(tmp_path / f"export{suffix}")  # type: ignore[operator]
    rows = list(read_history(path))
    assert [row.id for row in rows] == [mid for mid, *_ in MESSAGES]
    assert rows[0].title == "路灯不亮"
    assert rows[0].reply == MESSAGES[0][3]
    assert rows[0].time == "2019-04-24 16:03:40"
    assert rows[0].reply_time == "2019-05-09 09:49:10"


def test_a_gbk_csv_export_is_read(tmp_path: Path) -> None:
    rows = list(read_history(write_csv(tmp_path / "export.csv", encoding="gb18030")))
    assert rows[2].text == MESSAGES[2][2]


def test_a_csv_cell_may_hold_line_breaks(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    content = '留言详情,答复意见\n灯坏了,"一、经查。\n二、物业公司已更换路灯。"\n违建,城管已拆除\n'
    path.write_text(content, encoding="utf-8")
    rows = list(read_history(path))
    assert [row.reply for row in rows] == ["一、经查。\n二、物业公司已更换路灯。", "城管已拆除"]


def test_an_export_without_a_reply_column_is_refused_with_its_headers(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("留言主题,留言详情\n路灯,灯坏了\n", encoding="utf-8")
    with pytest.raises(Exception, match=r"no column for reply.*留言主题"):
        list(read_history(path))


def test_boilerplate_replies_are_recognised_and_clear_short_ones_are_not() -> None:
    assert is_boilerplate("网友：您好！留言已收悉")
    assert is_boilerplate("您的留言已收悉，关于您反映的问题，已转F9市调查处理。2019年2月1日")
    assert not is_boilerplate("经查，该小区物业公司已于3月5日更换路灯")


@pytest.mark.parametrize(
    ("reply", "party"),
    [
        ("经查，该小区物业公司已于3月5日更换路灯", "property_manager"),
        ("业主大会表决通过续聘", "owners_committee"),
        ("城管执法中队已依法拆除违建", "street_office"),
        ("我局已责成物业公司限期整改", "property_manager"),
        ("街道将指导业委会依法换届", "owners_committee"),
    ],
)
def test_the_rules_name_who_acted_not_who_gave_the_order(reply: str, party: str) -> None:
    assert evidence(reply).top == party


def test_a_done_action_outweighs_a_mere_mention() -> None:
    found = evidence("社区了解到，物业公司已更换了门禁")
    assert found.scores["property_manager"] > found.scores["street_office"]


def test_the_import_labels_clear_replies_drops_boilerplate_and_leaves_doubt_unlabelled(tmp_path: Path) -> None:
    lines, summary = import_history([write_csv(tmp_path / "export.csv")], min_confidence=0.8)
    labels = {line["id"]: line["label"] for line in lines}
    assert labels == {"m1": "property_manager", "m2": "owners_committee", "m3": "street_office", "m6": ""}
    assert (summary.read, summary.labelled, summary.unlabelled) == (6, 3, 1)
    assert summary.dropped["boilerplate reply"] == 2
    assert all(0.0 <= line["label_confidence"] <= 1.0 for line in lines)


def test_personal_data_is_scrubbed_from_the_output(tmp_path: Path) -> None:
    lines, _ = import_history([write_jsonl(tmp_path / "export.jsonl")], min_confidence=0.8)
    text = next(line["text"] for line in lines if line["id"] == "m1")
    assert "13812345678" not in text
    assert "张伟" not in text
    assert "[手机号]" in text
    assert "[姓名]" in text


def test_the_self_trained_model_judges_replies_that_name_no_actor() -> None:
    things = ["路灯", "门禁", "水泵", "电梯按钮", "楼道灯", "监控探头"]
    things += ["消防栓", "单元门锁", "道闸", "水箱", "晾衣架", "信报箱"]
    places = ["违建", "占道摊点", "违章广告", "夜市摊位", "违停车辆", "建筑垃圾"]
    places += ["露天烧烤", "无证作坊", "渣土", "噪音工地", "流动摊贩", "违规招牌"]
    replies = [f"经核实，物业公司已派维修工更换了损坏的{thing}，小区维修工作已完成" for thing in things]
    replies += [f"经核实，城管执法中队已依法查处{place}，立案并处以罚款" for place in places]
    replies.append("经核实，已派维修工更换了损坏的窗户，维修工作已完成")
    inferred, report = infer_labels(replies)
    assert report.model_agreement is not None
    assert report.rule_confident == {"property_manager": 12, "owners_committee": 0, "street_office": 12}
    assert inferred[-1].label == "property_manager"
    assert inferred[-1].probabilities["property_manager"] > inferred[-1].probabilities["street_office"]


def test_the_import_command_writes_the_history_and_says_what_it_did(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "history.jsonl"
    assert main(["history", "import", str(write_xlsx(tmp_path / "export.xlsx")), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out.strip().splitlines()[-1])
    assert (summary["read"], summary["labelled"], summary["unlabelled"], summary["dropped"]) == (6, 3, 1, 2)
    assert "read 6, labelled 3" in captured.err
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert set(lines[0]) == {"id", "title", "text", "reply", "label", "label_confidence", "time", "reply_time"}
    assert [item.label for item in labelled_items(out)] == ["property_manager", "owners_committee", "street_office"]


def test_the_import_command_refuses_an_unknown_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "export.txt"
    path.write_text("x", encoding="utf-8")
    assert main(["history", "import", str(path), "--out", str(tmp_path / "h.jsonl")]) == 2
    assert "unknown format" in capsys.readouterr().err


def test_the_benchmark_compares_inferred_labels_with_a_gold_sample_by_id_or_text() -> None:
    from bench.history_labels import gold_agreement

    lines = [
        {"id": "a", "text": "灯坏了", "label": "property_manager"},
        {"id": "b", "text": "违建", "label": "street_office"},
        {"id": "c", "text": "换届", "label": ""},
    ]
    gold = [
        {"id": "a", "label": "property_manager"},
        {"text": "违建", "label": "property_manager"},
        {"id": "c", "label": "owners_committee"},
        {"id": "zzz", "label": "street_office"},
    ]
    report = gold_agreement(lines, gold)
    assert (report["gold_rows"], report["matched"]) == (4, 3)
    assert report["agreement_where_labelled"] == 0.5
    assert report["labelled_share"] == 2 / 3
    assert report["inferred_by_gold_label"]["owners_committee"] == {"(unlabelled)": 1}
