"""The catalog entry a decision rests on: keyword matcher and entry model together, within the chosen party."""

from __future__ import annotations

import numpy as np
import pytest

from linli.catalog import Catalog, load_catalog
from services.routing.entry_choice import MIN_MODEL_SCORE, choose_entry
from services.routing.learning.classifier import EntryExample, EntryModel

STAIRWELL = "3号楼楼道的灯坏了好几天"
CRYING = "隔壁那家小孩一直哭闹"  # the matcher finds 邻居噪音扰民 at 0.30 only: too weak to show alone


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def flat(catalog: Catalog, score: float = -1.0, **overrides: float) -> dict[str, float]:
    """Entry-model scores: `score` for every entry, except the ones named."""
    return {entry.id: overrides.get(entry.id, score) for entry in catalog.entries}


def test_without_an_entry_model_a_strong_keyword_match_decides(catalog: Catalog) -> None:
    choice = choose_entry(STAIRWELL, "property_manager", catalog)
    assert choice is not None
    assert (choice.entry.id, round(choice.score, 2)) == ("stairwell_light_broken", 0.99)
    assert choose_entry(CRYING, "street_office", catalog) is None


def test_the_entry_model_finds_the_entry_the_keywords_miss(catalog: Catalog) -> None:
    scores = flat(catalog, neighbour_noise=-0.3, lift_breakdown=-0.2)  # the lift is the property manager's
    choice = choose_entry(CRYING, "street_office", catalog, scores)
    assert choice is not None
    assert choice.entry.id == "neighbour_noise"


def test_the_sum_of_both_readers_decides_within_the_party(catalog: Catalog) -> None:
    # 楼道灯 matches stairwell_light_broken at 0.99 (+0.50); the model prefers the lift by less than that.
    scores = flat(catalog, stairwell_light_broken=-0.7, lift_breakdown=-0.4)
    choice = choose_entry(STAIRWELL, "property_manager", catalog, scores)
    assert choice is not None
    assert choice.entry.id == "stairwell_light_broken"
    # By more than that, the model's reading wins.
    scores = flat(catalog, stairwell_light_broken=-0.7, lift_breakdown=0.0)
    choice = choose_entry(STAIRWELL, "property_manager", catalog, scores)
    assert choice is not None
    assert choice.entry.id == "lift_breakdown"


def test_an_entry_of_another_party_is_never_chosen(catalog: Catalog) -> None:
    scores = flat(catalog, public_street_lights=2.0)  # the street office's lamps: the model's favourite
    choice = choose_entry(STAIRWELL, "property_manager", catalog, scores)
    assert choice is not None
    assert choice.entry.party == "property_manager"


def test_no_entry_without_evidence_from_either_reader(catalog: Catalog) -> None:
    assert choose_entry("你好,想反映个问题", "property_manager", catalog, flat(catalog, MIN_MODEL_SCORE - 0.1)) is None
    assert choose_entry("你好,想反映个问题", "property_manager", None, flat(catalog, 1.0)) is None


def test_the_score_is_the_entrys_share_of_its_partys_evidence(catalog: Catalog) -> None:
    clear = choose_entry(CRYING, "street_office", catalog, flat(catalog, neighbour_noise=0.5))
    close = choose_entry(CRYING, "street_office", catalog, flat(catalog, -0.5, neighbour_noise=-0.45))
    assert clear is not None
    assert close is not None
    assert clear.entry.id == close.entry.id == "neighbour_noise"
    assert 0.0 < close.score < 0.2 < 0.9 < clear.score <= 1.0


def test_the_entry_model_names_its_entries_and_an_old_pickle_has_none() -> None:
    examples = [
        EntryExample("楼道灯坏了", "light", "property_manager"),
        EntryExample("电梯坏了", "lift", "property_manager"),
        EntryExample("楼上太吵", "noise", "street_office"),
    ]
    vectors = np.eye(3)
    model = EntryModel(["property_manager", "street_office"], c=10.0).fit(vectors, examples)
    assert model.entries == ("lift", "light", "noise")
    assert [model.entries[i] for i in model.entry_scores(vectors).argmax(axis=1)] == ["light", "lift", "noise"]
    state = model.__dict__.copy()
    del state["entries"]
    old = EntryModel.__new__(EntryModel)  # as unpickling a model saved before entry ids were kept
    old.__setstate__(state)
    assert old.entries == ()
