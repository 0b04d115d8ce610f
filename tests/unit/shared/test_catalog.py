"""The responsibility catalog: the packaged YAML, its validation and the keyword/phrasing matcher."""

from __future__ import annotations

import copy
import dataclasses
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from linli.catalog import (
    ESCALATION_ORDER,
    Catalog,
    CatalogError,
    load_catalog,
)
from linli.errors import InvalidArgument, NotFound
from linli.parties import DEFAULT_PARTIES


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def test_packaged_catalog_has_the_three_parties_and_enough_entries_for_each(catalog: Catalog) -> None:
    assert re.fullmatch(r"\d{4}\.\d{1,2}\.\d+", catalog.version)
    assert set(catalog.parties) == set(DEFAULT_PARTIES)
    assert len(catalog.entries) >= 66
    per_party = Counter(entry.party for entry in catalog.entries)
    assert all(per_party[party] >= 18 for party in DEFAULT_PARTIES), per_party
    assert sum(len(catalog.by_party(party)) for party in DEFAULT_PARTIES) == len(catalog.entries)


def test_every_entry_is_complete_and_cites_known_sources(catalog: Catalog) -> None:
    for entry in catalog.entries:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", entry.id)
        assert 12 <= len(entry.phrasings) <= 18, entry.id
        assert all((entry.keywords, entry.name, entry.description, entry.basis)), entry.id
        assert entry.escalation_level in ESCALATION_ORDER
        assert set(entry.basis_sources) <= set(catalog.sources), entry.id
        assert entry.party not in entry.co_parties


def test_every_phrasing_matches_its_own_entry_in_the_top_three(catalog: Catalog) -> None:
    outside_top_three, not_first, total = [], 0, 0
    for entry in catalog.entries:
        for phrasing in entry.phrasings:
            ranked = [found.id for found, _ in catalog.match(phrasing, limit=3)]
            total += 1
            not_first += not ranked or ranked[0] != entry.id
            if entry.id not in ranked:
                outside_top_three.append((entry.id, phrasing, ranked))
    assert not outside_top_three
    assert not_first <= total * 0.05


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3号楼楼道的灯坏了好几天了", "stairwell_light_broken"),
        ("有人困在电梯里", "lift_person_trapped"),
        ("闻到很重的煤气味", "gas_smell"),
        ("消防通道被占", "fire_lane_blocked"),
        ("老楼加装电梯", "elevator_retrofit"),
        ("公共收益不公开", "public_revenue_disclosure"),
        ("楼下饭店油烟太大", "restaurant_fumes"),
        ("开居住证明", "household_registration_certificates"),
    ],
)
def test_a_text_that_names_a_topic_scores_high_for_it(catalog: Catalog, text: str, expected: str) -> None:
    best, score = catalog.match(text)[0]
    assert best.id == expected
    assert score >= 0.6


VAGUE_TEXTS = ["你好", "我想反映一个问题", "麻烦尽快处理一下", "怎么还没人来", "你们到底管不管", "hello"]


@pytest.mark.parametrize("text", VAGUE_TEXTS)
def test_vague_text_gives_no_strong_match(catalog: Catalog, text: str) -> None:
    assert all(score < 0.3 for _, score in catalog.match(text))


def test_match_is_ranked_bounded_and_empty_without_evidence(catalog: Catalog) -> None:
    results = catalog.match("楼上漏水,楼道里还堆满了杂物,电梯也坏了", limit=5)
    scores = [score for _, score in results]
    assert len(results) == 5
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 < score <= 1.0 for score in scores)
    assert catalog.match("   ") == []
    assert catalog.match("Lorem ipsum dolor sit amet") == []
    with pytest.raises(InvalidArgument, match="limit"):
        catalog.match("楼道灯坏了", limit=0)


def test_genuine_emergencies_are_marked_with_short_deadlines(catalog: Catalog) -> None:
    emergencies = {entry.id: entry for entry in catalog.entries if entry.urgency == "emergency"}
    assert {"gas_smell", "fire_outbreak", "lift_person_trapped", "pipe_burst", "building_power_outage"} <= set(
        emergencies
    )
    assert all(entry.sla_hours <= 2 for entry in emergencies.values())
    for text in ("楼道里有股煤气味", "楼下着火了", "电梯卡住了,有人被困在里面"):
        assert catalog.match(text)[0][0].urgency == "emergency", text


def test_lookups_fail_with_domain_errors(catalog: Catalog) -> None:
    assert catalog.get("gas_smell").party == "property_manager"
    with pytest.raises(NotFound, match="no_such_entry"):
        catalog.get("no_such_entry")
    with pytest.raises(NotFound, match="mayor"):
        catalog.by_party("mayor")


def test_catalog_is_immutable(catalog: Catalog) -> None:
    with pytest.raises(TypeError):
        catalog.parties["mayor"] = catalog.parties["street_office"]  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        catalog.entries[0].party = "street_office"  # type: ignore[misc]


# ─── validation, on small catalogs written to tmp_path ─────────────────────────────────────────────────────────

VALID: dict[str, Any] = {
    "version": "2026.11.1",
    "parties": {
        "property_manager": {"name": "物业", "description": "共用部位维修养护"},
        "street_office": {"name": "街道", "description": "行政执法与社区服务"},
    },
    "sources": [{"id": "civil_code", "citation": "《中华人民共和国民法典》第二百七十一条至第二百八十七条"}],
    "entries": [
        {
            "id": "stairwell_light",
            "name": "楼道灯损坏",
            "description": "楼道照明。",
            "phrasings": ["楼道灯坏了", "声控灯不亮", "楼梯间黑漆漆的"],
            "keywords": ["楼道灯", "声控灯"],
            "party": "property_manager",
            "co_parties": [],
            "basis": "共用设施由物业维修。",
            "basis_sources": ["civil_code"],
            "sla_hours": 48,
            "urgency": "normal",
            "escalation_level": "building",
        },
        {
            "id": "illegal_construction",
            "name": "违建",
            "description": "私搭乱建。",
            "phrasings": ["搭了阳光房", "天台加盖", "私搭乱建彩钢棚"],
            "keywords": ["违建", "阳光房"],
            "party": "street_office",
            "co_parties": ["property_manager"],
            "basis": "综合执法查处。",
            "basis_sources": ["civil_code"],
            "sla_hours": 168,
            "urgency": "normal",
            "escalation_level": "street",
        },
    ],
}


def write_catalog(tmp_path: Path, document: dict[str, Any]) -> Path:
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


def test_a_small_valid_catalog_loads(tmp_path: Path) -> None:
    catalog = load_catalog(write_catalog(tmp_path, VALID))
    assert [entry.id for entry in catalog.by_party("street_office")] == ["illegal_construction"]
    assert catalog.get("stairwell_light").phrasings == ("楼道灯坏了", "声控灯不亮", "楼梯间黑漆漆的")
    assert catalog.match("楼道灯又坏了")[0][0].id == "stairwell_light"


def set_first(field: str, value: object) -> Any:
    def mutate(document: dict[str, Any]) -> None:
        document["entries"][0][field] = value

    return mutate


def duplicate_first_id(document: dict[str, Any]) -> None:
    document["entries"][1]["id"] = "stairwell_light"


@pytest.mark.parametrize(
    ("mutate", "field", "message"),
    [
        (set_first("party", "mayor"), "entries[stairwell_light].party", "unknown party 'mayor'"),
        (duplicate_first_id, "entries[stairwell_light].id", "duplicate id"),
        (set_first("basis_sources", ["civil_code", "nowhere"]), "entries[stairwell_light].basis_sources", "nowhere"),
        (set_first("sla_hours", 0), "entries[stairwell_light].sla_hours", "positive"),
        (set_first("sla_hours", -4), "entries[stairwell_light].sla_hours", "positive"),
        (set_first("sla_hours", "48h"), "entries[stairwell_light].sla_hours", "whole number"),
        (set_first("urgency", "asap"), "entries[stairwell_light].urgency", "emergency, urgent, normal"),
        (set_first("escalation_level", "city"), "entries[stairwell_light].escalation_level", "building, community"),
        (set_first("phrasings", ["楼道灯坏了", "声控灯不亮"]), "entries[stairwell_light].phrasings", "at least 3"),
        (set_first("co_parties", ["property_manager"]), "entries[stairwell_light].co_parties", "own party"),
        (set_first("keywords", ["灯"]), "entries[stairwell_light].keywords", "at least 2 characters"),
        (set_first("sla_hour", 48), "entries[stairwell_light].sla_hour", "unknown field"),
        (set_first("id", "Stairwell Light"), "entries[Stairwell Light].id", "snake_case"),
    ],
)
def test_each_schema_error_names_the_entry_and_field(tmp_path: Path, mutate: Any, field: str, message: str) -> None:
    document = copy.deepcopy(VALID)
    mutate(document)
    with pytest.raises(CatalogError, match=re.escape(field)) as raised:
        load_catalog(write_catalog(tmp_path, document))
    assert any(v.field == field and message in v.description for v in raised.value.violations), raised.value


def test_file_level_errors_are_catalog_errors(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="cannot read"):
        load_catalog(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("entries: [unclosed", encoding="utf-8")
    with pytest.raises(CatalogError, match="not valid YAML"):
        load_catalog(broken)
    document = copy.deepcopy(VALID)
    document["version"] = "v2"
    with pytest.raises(CatalogError, match=r"version: must look like YYYY\.MM\.N"):
        load_catalog(write_catalog(tmp_path, document))


def test_a_catalog_built_in_code_is_validated_too() -> None:
    catalog = load_catalog()
    entry = dataclasses.replace(catalog.entries[0], co_parties=(catalog.entries[0].party,))
    with pytest.raises(CatalogError, match="own party"):
        Catalog(version="2026.11.1", parties=catalog.parties, entries=(entry,), sources=catalog.sources)
