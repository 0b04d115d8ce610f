"""Bare personal names: the leak from workers' resolutions, scores on both halves of the name set, look-alikes."""

from __future__ import annotations

import time

import pytest

from bench.pii_scrub import NAME_EXAMPLES, NameExample, evaluate_names, load_name_examples
from linli.pii import PiiType, bare_names, find_pii, scrub


@pytest.fixture(scope="module")
def name_examples() -> list[NameExample]:
    return load_name_examples(NAME_EXAMPLES)


def test_a_workers_resolution_keeps_no_name() -> None:
    scrubbed = scrub("已联系李建华,明天上门维修")
    assert scrubbed == "已联系[姓名],明天上门维修"
    assert "李" not in scrubbed
    assert "建华" not in scrubbed


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        ("张伟昨天又把车停在消防通道上", "[姓名]昨天又把车停在消防通道上"),
        ("经刘桂花同意,杂物今天搬走", "经[姓名]同意,杂物今天搬走"),
        ("已通知欧阳建国和司马光明", "已通知[姓名]和[姓名]"),
        ("王志强、李娟和赵国栋都签了字", "[姓名]、[姓名]和[姓名]都签了字"),
        ("吴国栋师傅已更换水泵", "[姓名]师傅已更换水泵"),
        ("3号楼的陈晓东家漏水", "3号楼的[姓名]家漏水"),
        ("维修工何建国占用了车位", "维修工[姓名]占用了车位"),
        ("网格员马丽来过一次", "网格员[姓名]来过一次"),
        ("王经理和赵主任都答应了", "[姓名]和[姓名]都答应了"),
        ("老王和小李在楼下吵架", "[姓名]和[姓名]在楼下吵架"),
    ],
)
def test_bare_names_get_the_name_placeholder(text: str, scrubbed: str) -> None:
    assert scrub(text) == scrubbed


@pytest.mark.parametrize(
    "text",
    [
        "王府井那边的房子也有这个问题吗",
        "高楼层周末白天都没水,上班不方便",
        "楼下的向日葵被人拔光了,江边的路灯也坏了",
        "黄色隔离桩倒在林荫道旁的马路上",
        "经核实,退还的金额为300元",
        "已联系万科物业处理长宁路上的积水",
        "张江镇派出所说这个不归他们管",
        "恒康居民区的垃圾一直没人清运",
        "宁可多走几步路也别乱停",
        "向物业反映了好几次",
        "由于施工方中午不停工,钱款已退还",
        "墙上3米宽的裂缝",
    ],
)
def test_places_organisations_and_words_starting_with_a_surname_survive(text: str) -> None:
    assert [span for span in find_pii(text) if span.type is PiiType.NAME] == []
    assert scrub(text) == text


def test_the_name_set_has_two_halves_of_realistic_texts(name_examples: list[NameExample]) -> None:
    names = {split: sum(len(e.names) for e in name_examples if e.split == split) for split in ("test", "tune")}
    assert sum(names.values()) >= 300
    assert names["test"] >= 150
    assert {e.source for e in name_examples} == {"complaint", "resolution"}
    assert sum(1 for e in name_examples if not e.names) >= 150


@pytest.mark.parametrize("split", ["test", "tune"])
def test_names_are_found_on_both_halves(name_examples: list[NameExample], split: str) -> None:
    result = evaluate_names([e for e in name_examples if e.split == split])
    assert result.names.recall >= 0.95
    assert result.names.precision >= 0.90
    assert result.negative_false_positives <= 2
    assert not result.other_types_found


def test_scrubbing_stays_fast_once_the_dictionary_is_loaded(name_examples: list[NameExample]) -> None:
    scrub("张伟")  # loads jieba's dictionary
    started = time.perf_counter()
    for example in name_examples:
        scrub(example.text)
    per_text = (time.perf_counter() - started) / len(name_examples)
    assert per_text < 0.002  # about 0.1 ms measured; generous for a loaded machine


def test_a_log_line_scrubbed_while_the_dictionary_loads_does_not_load_it_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loaded = bare_names._load_lexicon()
    nested: list[str] = []

    def reading_that_logs() -> object:
        nested.append(scrub("已联系李建华"))  # what a scrubbing log handler does with jieba's own log line
        return loaded

    monkeypatch.setattr(bare_names, "_lexicon", None)
    monkeypatch.setattr(bare_names, "_read_lexicon", reading_that_logs)
    assert scrub("已联系李建华") == "已联系[姓名]"
    assert nested == ["已联系李建华"]  # scrubbed without bare names, instead of waiting on itself
