"""A similarity-weighted vote of resolved precedents: the first, explainable routing signal."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from linli.parties import display_name
from linli.v1 import cases_pb2

# Pseudo-count added to every party: keeps probabilities below 1 when few precedents vote, so one lucky match
# is not reported as certainty.
SMOOTHING = 0.1


@dataclass(frozen=True)
class VoteOutcome:
    """The vote's result: probabilities per party, the voters and the best precedent of the winner."""

    probabilities: dict[str, float]
    voters: list[cases_pb2.ScoredCase]
    winner: str | None
    best_precedent: cases_pb2.ScoredCase | None

    @property
    def confidence(self) -> float:
        """Probability of the winning party (0 when nobody voted)."""
        return self.probabilities.get(self.winner, 0.0) if self.winner else 0.0


def vote_weights(
    precedents: Iterable[tuple[float, str]], *, parties: Iterable[str], min_similarity: float, temperature: float
) -> dict[str, float]:
    """Each (similarity, party) at least `min_similarity` close adds exp((similarity - best) / T) to its party.

    Sentence embeddings put most texts of one language at 0.6-0.8 cosine, so raw scores barely separate a
    near-duplicate from a loose match; weighting relative to the best match lets the close precedents decide,
    and several close ones that agree decide with more confidence than one. Every party starts at SMOOTHING.
    """
    voters = [(score, party) for score, party in precedents if score >= min_similarity]
    weights = dict.fromkeys(list(dict.fromkeys([*parties, *(party for _, party in voters)])), SMOOTHING)
    if voters:
        top = max(score for score, _ in voters)
        for score, party in voters:
            weights[party] += math.exp((score - top) / temperature)
    return weights


def vote(
    precedents: Sequence[cases_pb2.ScoredCase], *, parties: Iterable[str], min_similarity: float, temperature: float
) -> VoteOutcome:
    """The vote of resolved precedents (see vote_weights), with the voters and the winner's best precedent.

    Args:
        precedents: retrieved cases with cosine scores, any order.
        parties: every party that can be chosen; those without votes keep the smoothing mass.
        min_similarity: the floor below which a precedent does not vote.
        temperature: how fast a precedent's weight falls with distance from the best match.
    """
    voters = sorted((p for p in precedents if p.score >= min_similarity), key=lambda p: -p.score)
    weights = vote_weights(
        ((p.score, p.case.party) for p in voters),
        parties=parties,
        min_similarity=min_similarity,
        temperature=temperature,
    )
    total = sum(weights.values())
    probabilities = {party: weight / total for party, weight in weights.items()}
    if not voters:
        return VoteOutcome(probabilities, [], None, None)
    winner = max(probabilities, key=lambda party: probabilities[party])
    best = next(p for p in voters if p.case.party == winner)
    return VoteOutcome(probabilities, voters, winner, best)


def explain(outcome: VoteOutcome, *, abstained: bool, threshold: float) -> str:
    """One or two Chinese sentences a grid worker can check at a glance."""
    if not outcome.voters:
        return "没有足够相似的已办结案例,请人工分派。"
    counts: dict[str, int] = {}
    for precedent in outcome.voters:
        counts[precedent.case.party] = counts.get(precedent.case.party, 0) + 1
    tally = "、".join(f"{display_name(party)} {n} 件" for party, n in sorted(counts.items(), key=lambda kv: -kv[1]))
    best = outcome.best_precedent
    if best is None:  # cannot happen with voters; keeps the sentence honest if it ever does
        return f"{len(outcome.voters)} 件相似的已办结案例中:{tally}。"
    lead = (
        f"{len(outcome.voters)} 件相似的已办结案例中:{tally}。"
        f"最相似的是「{best.case.complaint[:40]}」(相似度 {best.score:.2f}),由{display_name(best.case.party)}办结。"
    )
    if abstained:
        return lead + f"最高把握 {outcome.confidence:.0%} 低于 {threshold:.0%},请人工分派。"
    return lead
