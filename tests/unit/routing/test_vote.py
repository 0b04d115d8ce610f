"""The similarity-weighted vote of precedents."""

from __future__ import annotations

import math

import pytest

from linli.parties import DEFAULT_PARTIES
from linli.v1 import cases_pb2
from services.routing.vote import explain, vote


def precedent(party: str, score: float, text: str = "楼道灯坏了") -> cases_pb2.ScoredCase:
    return cases_pb2.ScoredCase(case=cases_pb2.Case(id=f"{party}-{score}", complaint=text, party=party), score=score)


def test_probabilities_cover_every_party_and_sum_to_one() -> None:
    outcome = vote(
        [precedent("property_manager", 0.9), precedent("street_office", 0.7)],
        parties=DEFAULT_PARTIES,
        min_similarity=0.5,
        temperature=0.05,
    )
    assert set(outcome.probabilities) == set(DEFAULT_PARTIES)
    assert math.isclose(sum(outcome.probabilities.values()), 1.0)
    assert outcome.winner == "property_manager"
    assert outcome.best_precedent is not None
    assert outcome.best_precedent.score == pytest.approx(0.9)


def test_a_close_precedent_outweighs_several_loose_ones() -> None:
    precedents = [precedent("owners_committee", 0.92)] + [precedent("street_office", 0.70 + i / 100) for i in range(4)]
    outcome = vote(precedents, parties=DEFAULT_PARTIES, min_similarity=0.5, temperature=0.05)
    assert outcome.winner == "owners_committee"


def test_agreeing_precedents_raise_confidence() -> None:
    alone = vote([precedent("property_manager", 0.9)], parties=DEFAULT_PARTIES, min_similarity=0.5, temperature=0.05)
    backed = vote(
        [precedent("property_manager", 0.9), precedent("property_manager", 0.89)],
        parties=DEFAULT_PARTIES,
        min_similarity=0.5,
        temperature=0.05,
    )
    assert backed.confidence > alone.confidence


def test_nothing_close_enough_means_no_winner() -> None:
    outcome = vote([precedent("street_office", 0.3)], parties=DEFAULT_PARTIES, min_similarity=0.5, temperature=0.05)
    assert outcome.winner is None
    assert outcome.confidence == 0.0
    assert math.isclose(sum(outcome.probabilities.values()), 1.0)
    assert "人工" in explain(outcome, abstained=True, threshold=0.6)


def test_a_party_outside_the_defaults_can_win() -> None:
    outcome = vote([precedent("water_company", 0.95)], parties=DEFAULT_PARTIES, min_similarity=0.5, temperature=0.05)
    assert outcome.winner == "water_company"
    assert "water_company" in outcome.probabilities


def test_explanation_names_the_tally_and_the_closest_case() -> None:
    outcome = vote(
        [precedent("property_manager", 0.91, "电梯困人"), precedent("property_manager", 0.8)],
        parties=DEFAULT_PARTIES,
        min_similarity=0.5,
        temperature=0.05,
    )
    summary = explain(outcome, abstained=False, threshold=0.6)
    assert "物业 2 件" in summary
    assert "电梯困人" in summary
    assert "0.91" in summary
