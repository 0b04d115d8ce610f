"""The imported history feeds the router: training and evaluation with --history, and upserts as precedents."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import grpc
import pytest

from linli.grpc_serving import build_server
from linli.settings import GrpcTlsSettings
from linli.v1 import cases_pb2, retrieval_pb2, retrieval_pb2_grpc
from services.cli.main import main
from services.routing.history.upsert import case_from_line, parse_board_time, upsert_history
from services.routing.learning.model_dir import read_manifest

HISTORY = [
    ("h1", "楼道灯坏了", "楼道灯坏了一个月没人修", "物业公司已更换楼道灯", "property_manager"),
    ("h2", "电梯停了", "电梯停运三天，老人下不了楼", "物业公司已联系维保单位修复电梯", "property_manager"),
    ("h3", "续聘物业", "物业合同到期，要不要续聘", "业主大会表决通过续聘物业", "owners_committee"),
    ("h4", "维修基金", "外墙渗水想用维修基金修", "业委会已组织业主表决动用维修资金", "owners_committee"),
    ("h5", "违建", "楼下搭了违建", "城管执法中队已依法拆除违建", "street_office"),
    ("h6", "占道", "门口马路上有人占道经营", "街道城管已清理占道摊点", "street_office"),
    ("h7", "不确定", "这事归谁管", "情况较复杂，尚在了解之中", ""),
]


def write_history(path: Path, rows: Sequence[tuple[str, str, str, str, str]] = HISTORY) -> Path:
    lines = [
        {
            "id": mid,
            "title": title,
            "text": text,
            "reply": reply,
            "label": label,
            "label_confidence": 0.95 if label else 0.4,
            "time": "2019-04-24 16:03:40",
            "reply_time": "2019/5/9 9:49",
        }
        for mid, title, text, reply, label in rows
    ]
    path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")
    return path


def test_eval_with_history_trains_the_deployed_way_plus_the_history_and_skips_unlabelled_test_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history = write_history(tmp_path / "history.jsonl")
    args = ["eval", "routing", "--history", str(history), "--test", str(history)]
    assert main([*args, "--no-embeddings", "--no-words", "--folds", "3"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out.strip().splitlines()[-1])
    assert report["n"] == 6  # the unlabelled message is no test item
    assert {"accuracy", "macro_f1", "coverage", "selective_accuracy", "ece"} <= report.keys()
    assert report["train_seconds"] > 0
    assert "6 labelled messages from" in captured.err


def test_train_with_history_adds_it_to_the_packaged_cases(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    history = write_history(tmp_path / "history.jsonl")
    out = tmp_path / "model"
    assert main(["train", "routing", "--history", str(history), "--out", str(out), "--no-embeddings"]) == 0
    packaged = Path("services/retrieval/corpus/resolved_cases.jsonl").read_text(encoding="utf-8").count("\n")
    manifest = read_manifest(out)
    assert manifest.data.count == packaged + 6
    # Calibration and its metrics are the deployment's own cases': the history only teaches.
    assert manifest.metrics["n"] == packaged


def test_train_without_data_or_history_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "routing", "--out", str(tmp_path / "m"), "--no-embeddings"]) == 2
    assert "--data: required unless --history" in capsys.readouterr().err


def test_a_history_with_a_party_outside_the_default_ones_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history = write_history(tmp_path / "history.jsonl", [*HISTORY, ("h8", "t", "学校收费", "教育局已退费", "school")])
    assert main(["train", "routing", "--history", str(history), "--out", str(tmp_path / "m"), "--no-embeddings"]) == 2
    assert "school" in capsys.readouterr().err


class RecordingSink:
    """Stands in for RetrievalClient: keeps every batch it is sent."""

    def __init__(self) -> None:
        self.batches: list[list[cases_pb2.Case]] = []

    def upsert_cases(self, cases: Sequence[cases_pb2.Case]) -> None:
        self.batches.append(list(cases))


def test_labelled_messages_become_resolved_cases_and_unlabelled_ones_are_left_out(tmp_path: Path) -> None:
    lines = [json.loads(line) for line in write_history(tmp_path / "h.jsonl").read_text(encoding="utf-8").splitlines()]
    sink = RecordingSink()
    assert upsert_history(lines, sink, community="测试社区") == (6, 1)
    cases = [case for batch in sink.batches for case in batch]
    assert [case.party for case in cases[:3]] == ["property_manager", "property_manager", "owners_committee"]
    first = cases[0]
    assert first.id == "history:h1"
    assert first.complaint == "楼道灯坏了\n楼道灯坏了一个月没人修"
    assert first.resolution == "物业公司已更换楼道灯"
    assert first.status == cases_pb2.CASE_STATUS_RESOLVED
    assert first.community == "测试社区"
    assert first.created_at.ToJsonString() == "2019-04-24T08:03:40Z"
    assert first.resolved_at.ToJsonString() == "2019-05-09T01:49:00Z"


def test_a_case_is_cut_to_retrievals_limits_and_an_unreadable_time_is_left_unset() -> None:
    line = {"id": "x", "text": "长" * 3000, "reply": "物业已处理", "label": "property_manager", "time": "昨天"}
    case = case_from_line(line, "c")
    assert case is not None
    assert len(case.complaint) == 2000
    assert not case.HasField("created_at")
    assert parse_board_time("昨天") is None


class RecordingRetrieval(retrieval_pb2_grpc.RetrievalServiceServicer):
    """A retrieval server that keeps the cases and the call metadata of every UpsertCases."""

    def __init__(self) -> None:
        self.cases: list[cases_pb2.Case] = []
        self.metadata: list[tuple[str, str]] = []

    def UpsertCases(  # noqa: N802 - the RPC name of the generated base class
        self, request: retrieval_pb2.UpsertCasesRequest, context: grpc.ServicerContext
    ) -> retrieval_pb2.UpsertCasesResponse:
        self.cases.extend(request.cases)
        self.metadata.extend((key, str(value)) for key, value in context.invocation_metadata())
        return retrieval_pb2.UpsertCasesResponse(upserted=len(request.cases), case_count=len(self.cases))


def test_the_upsert_command_sends_the_labelled_cases_with_the_admin_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    servicer = RecordingRetrieval()
    handle = build_server(
        host="127.0.0.1",
        port=0,
        workers=2,
        service_names=["linli.v1.RetrievalService"],
        register=lambda server: retrieval_pb2_grpc.add_RetrievalServiceServicer_to_server(servicer, server),
        tls=GrpcTlsSettings(),
    )
    handle.set_serving(True)  # as retrieval does once loaded: the command's channel calls only serving replicas
    monkeypatch.setenv("LINLI_AUTH_ADMIN_TOKEN", "admin-token")
    try:
        history = write_history(tmp_path / "history.jsonl")
        assert main(["history", "upsert", str(history), "--target", f"127.0.0.1:{handle.port}"]) == 0
    finally:
        handle.stop(0)
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == {"upserted": 6, "unlabelled_left_out": 1}
    assert [case.id for case in servicer.cases] == [f"history:h{n}" for n in range(1, 7)]
    assert ("authorization", "Bearer admin-token") in servicer.metadata


def test_the_upsert_command_without_credentials_says_what_to_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("LINLI_AUTH_ADMIN_TOKEN", raising=False)
    monkeypatch.delenv("LINLI_AUTH_SECRETS", raising=False)
    history = write_history(tmp_path / "history.jsonl")
    assert main(["history", "upsert", str(history), "--target", "127.0.0.1:1"]) == 2
    assert "LINLI_AUTH_ADMIN_TOKEN" in capsys.readouterr().err
