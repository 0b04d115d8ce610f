"""The case memory with the real m3e-small model: upsert, search with filters, delete, reload, bad input."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from linli.embedding import SentenceTransformerEmbedder, Vectors
from linli.errors import AlreadyExists, InvalidArgument
from services.retrieval.cases import CaseFilter, CaseRecord, CaseStatus, read_corpus
from services.retrieval.memory import CaseMemory
from services.retrieval.store import CaseStore
from tests.unit.fakes import HashEmbedder

CASES = [
    CaseRecord("c1", "楼道灯坏了好几天", "物业电工更换灯泡", "property_manager", "恒康居民区", "stairwell_light",
               resolved_at=datetime(2025, 3, 1, tzinfo=UTC)),
    CaseRecord("c2", "电梯停在两层中间,有人被困", "物业联系维保单位救援并修复", "property_manager", "西渚花苑", "lift",
               resolved_at=datetime(2025, 5, 1, tzinfo=UTC)),
    CaseRecord("c3", "小区外马路边有人违章搭建铁皮棚", "街道城管中队依法拆除", "street_office", "西渚花苑",
               "illegal_construction", resolved_at=datetime(2025, 7, 1, tzinfo=UTC)),
    CaseRecord("c4", "想用维修基金给屋顶做防水怎么申请", "业委会组织业主表决后申请维修资金", "owners_committee",
               "恒康居民区", "maintenance_fund", resolved_at=datetime(2025, 9, 1, tzinfo=UTC)),
    CaseRecord("c5", "楼下饭店油烟太大", "", "street_office", "恒康居民区", "oil_fumes", status=CaseStatus.OPEN),
]  # fmt: skip


def make_memory(embedder: SentenceTransformerEmbedder, path: Path) -> CaseMemory:
    return CaseMemory(embedder, CaseStore.from_url(f"sqlite:///{path}"), max_k=10, max_batch=16)


@pytest.fixture
def memory(embedder: SentenceTransformerEmbedder, tmp_path: Path) -> CaseMemory:
    memory = make_memory(embedder, tmp_path / "cases.sqlite")
    memory.upsert(CASES)
    return memory


def test_the_closest_case_comes_first(memory: CaseMemory) -> None:
    hits = memory.search(text="楼梯间的灯不亮了", k=3, case_filter=CaseFilter())
    assert hits[0][0].id == "c1"
    assert hits[0][1] > hits[1][1] > hits[2][1]


def test_filters_restrict_the_results(memory: CaseMemory) -> None:
    by_party = memory.search(text="有人违建", k=5, case_filter=CaseFilter(party="property_manager"))
    assert {case.party for case, _ in by_party} == {"property_manager"}
    by_community = memory.search(text="灯坏了", k=5, case_filter=CaseFilter(community="西渚花苑"))
    assert {case.community for case, _ in by_community} == {"西渚花苑"}
    resolved = memory.search(text="油烟", k=5, case_filter=CaseFilter(resolved_only=True))
    assert "c5" not in {case.id for case, _ in resolved}
    window = memory.search(
        text="灯坏了",
        k=5,
        case_filter=CaseFilter(
            resolved_after=datetime(2025, 4, 1, tzinfo=UTC), resolved_before=datetime(2025, 8, 1, tzinfo=UTC)
        ),
    )
    assert {case.id for case, _ in window} == {"c2", "c3"}


def test_search_by_vector_matches_search_by_text(memory: CaseMemory, embedder: SentenceTransformerEmbedder) -> None:
    vector = embedder.embed(["电梯困人了"])[0] * 3.0  # any scale: the service normalises
    by_vector = memory.search(vector=vector, k=2, case_filter=CaseFilter())
    by_text = memory.search(text="电梯困人了", k=2, case_filter=CaseFilter())
    assert [c.id for c, _ in by_vector] == [c.id for c, _ in by_text]


def test_upsert_replaces_and_delete_removes(memory: CaseMemory) -> None:
    memory.upsert([CaseRecord("c1", "路灯不亮", "市政维修", "street_office", "恒康居民区")])
    assert memory.stats().case_count == len(CASES)
    hits = memory.search(text="路灯不亮", k=1, case_filter=CaseFilter())
    assert (hits[0][0].id, hits[0][0].party) == ("c1", "street_office")
    assert memory.delete(["c1", "never-existed"]) == 1
    assert "c1" not in {c.id for c, _ in memory.search(text="路灯不亮", k=10, case_filter=CaseFilter())}
    assert memory.stats().case_count == len(CASES) - 1


def test_a_restart_rebuilds_the_same_index(
    memory: CaseMemory, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    before = memory.search(text="电梯坏了", k=3, case_filter=CaseFilter())
    reopened = make_memory(embedder, tmp_path / "cases.sqlite")
    assert reopened.load() == len(CASES)
    after = reopened.search(text="电梯坏了", k=3, case_filter=CaseFilter())
    assert [(c.id, round(s, 5)) for c, s in before] == [(c.id, round(s, 5)) for c, s in after]


class RenamedModel:
    """The same weights under another name: the memory must re-embed what was stored under the old one."""

    def __init__(self, inner: SentenceTransformerEmbedder) -> None:
        self.inner = inner
        self.calls = 0

    model_name = "m3e-small-v2"

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def embed(self, texts: list[str]) -> Vectors:
        self.calls += 1
        return self.inner.embed(texts)


def test_a_changed_model_re_embeds_stored_cases(
    memory: CaseMemory, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    renamed = RenamedModel(embedder)
    reopened = CaseMemory(renamed, CaseStore.from_url(f"sqlite:///{tmp_path / 'cases.sqlite'}"), max_k=10, max_batch=16)
    assert reopened.load() == len(CASES)
    assert renamed.calls == 1
    assert reopened.stats().model == "m3e-small-v2"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"text": "灯", "k": 0}, "k"),
        ({"text": "灯", "k": 11}, "k"),
        ({"text": "  ", "k": 3}, "text"),
        ({"vector": np.ones(3, dtype=np.float32), "k": 3}, "vector"),
        ({"vector": np.zeros(512, dtype=np.float32), "k": 3}, "vector"),
        ({"text": "灯", "k": 3, "case_filter": CaseFilter(party="nobody")}, "filter.party"),
        ({"text": "灯", "k": 3, "case_filter": CaseFilter(community="火星小区")}, "filter.community"),
    ],
)
def test_bad_searches_name_the_field(memory: CaseMemory, kwargs: dict[str, object], field: str) -> None:
    kwargs.setdefault("case_filter", CaseFilter())
    with pytest.raises(InvalidArgument) as raised:
        memory.search(**kwargs)  # type: ignore[arg-type]
    assert raised.value.violations[0].field == field


def test_bad_upserts_change_nothing(memory: CaseMemory) -> None:
    with pytest.raises(InvalidArgument) as raised:
        memory.upsert(
            [CaseRecord("x", "", "做了", "", "恒康居民区"), CaseRecord("y", "路灯坏了", "", "street_office", "")]
        )
    fields = {v.field for v in raised.value.violations}
    assert {"cases[0].complaint", "cases[0].party", "cases[1].community", "cases[1].resolution"} <= fields
    with pytest.raises(AlreadyExists):
        memory.upsert([CaseRecord("c1", "楼道灯坏了", "换灯", "property_manager", "西渚花苑")])
    assert memory.stats().case_count == len(CASES)
    assert memory.search(text="楼道灯", k=1, case_filter=CaseFilter())[0][0].community == "恒康居民区"


def test_the_starter_corpus_is_well_formed() -> None:
    corpus = Path(__file__).resolve().parents[3] / "services" / "retrieval" / "corpus" / "starter_cases.jsonl"
    cases = read_corpus(corpus)
    assert len(cases) >= 100
    assert {c.party for c in cases} == {"property_manager", "owners_committee", "street_office"}
    assert all(c.status is CaseStatus.RESOLVED and c.resolution for c in cases)
    assert len({c.id for c in cases}) == len(cases)


class RecordingEmbedder:
    """The hash embedder, remembering every text it was asked to embed."""

    def __init__(self) -> None:
        self.inner = HashEmbedder()
        self.texts: list[str] = []

    @property
    def model_name(self) -> str:
        return self.inner.model_name

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def embed(self, texts: list[str]) -> Vectors:
        self.texts.extend(texts)
        return self.inner.embed(texts)


def test_personal_data_is_scrubbed_before_embedding_storing_and_search(tmp_path: Path) -> None:
    store_url = f"sqlite:///{tmp_path / 'cases.sqlite'}"
    recorder = RecordingEmbedder()
    memory = CaseMemory(recorder, CaseStore.from_url(store_url), max_k=5, max_batch=4)
    memory.upsert(
        [
            CaseRecord(
                "pii-1",
                "我住3号楼2单元501室,楼道灯坏了三天,电话13812345678",
                "物业王师傅当天换了灯泡,已回电13812345678",
                "property_manager",
                "恒康居民区",
            )
        ]
    )
    complaint = "我住[房号],楼道灯坏了三天,电话[手机号]"
    resolution = "物业[姓名]当天换了灯泡,已回电[手机号]"
    assert recorder.texts == [complaint]
    found = memory.search(text="楼道灯坏了", k=1, case_filter=CaseFilter())[0][0]
    assert (found.id, found.complaint, found.resolution) == ("pii-1", complaint, resolution)
    # Stored scrubbed, not masked on the way out: a fresh memory over the same store returns the same texts.
    reopened = CaseMemory(RecordingEmbedder(), CaseStore.from_url(store_url), max_k=5, max_batch=4)
    assert reopened.load() == 1
    again = reopened.search(text="楼道灯坏了", k=1, case_filter=CaseFilter())[0][0]
    assert (again.complaint, again.resolution) == (complaint, resolution)


def test_a_corpus_line_with_a_field_of_the_wrong_type_names_its_line(tmp_path: Path) -> None:
    corpus = tmp_path / "cases.jsonl"
    good = {"id": "c1", "complaint": "楼道灯坏了", "party": "property_manager", "community": "恒康居民区"}
    corpus.write_text(
        json.dumps(good, ensure_ascii=False) + "\n" + json.dumps({**good, "party": None}) + "\n", encoding="utf-8"
    )
    with pytest.raises(ValueError, match=r"cases.jsonl:2: .*party must be a string"):
        read_corpus(corpus)
