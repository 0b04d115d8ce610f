"""Instant answers: a resident's question that a resolved precedent answers confidently, shown before any ticket.

"楼道灯坏了归谁管?" has been answered many times: when the text reads like a question and the closest resolved case
is very close and agrees with the responsibility catalog, the resident reads what was done last time and who does
it (never another resident's complaint), and may still submit a ticket with one tap. Nothing is stored; an unsure
or unavailable answer is no answer.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum

from linli.catalog import Catalog, CatalogEntry
from linli.errors import InvalidArgument, LinliError
from linli.parties import display_name
from linli.pii import scrub
from services.intake.answers.precedents import CaseSearch, Precedent
from services.intake.tickets.validation import CommunityNames, check_community, check_text, community_names

logger = logging.getLogger(__name__)

# Ways Chinese residents ask rather than report. Rhetorical complaints ("怎么还没人修") also match: the precedent gate
# below decides whether an answer helps, and a shown answer never stops a submission.
_QUESTION = re.compile(
    r"[?？]|请问|怎么|吗|能不能|能否|可不可以|可以不|是不是|是否|有没有|归谁管|谁管|谁负责|找谁|如何|哪里|哪儿|"
    r"什么时候|多久|多长时间|要不要|该不该"
)
# m3e-small puts unrelated texts close together, so the bar is high. Measured on 18 hand-written questions against
# the starter corpus (the seed index): off-topic questions ("请问医保卡怎么办理?") reached at most 0.805, on-topic
# ones 0.79-0.92 on their best case; 0.84 answered 7 of 12 on-topic questions and none of the 6 off-topic ones.
DEFAULT_MIN_SIMILARITY = 0.84
# A catalog match below this is noise ("你好,想问一下" matches something faintly); above it, it must agree.
CATALOG_AGREEMENT_SCORE = 0.3
PRECEDENTS_ASKED = 3


def reads_like_question(text: str) -> bool:
    """True when the text asks something (?, ？, 请问, 怎么, 吗, 能不能, 归谁管 …) rather than only reporting."""
    return _QUESTION.search(text) is not None


class NoAnswerReason(StrEnum):
    """Why no answer was given (the page submits the ticket as usual)."""

    NOT_A_QUESTION = "not_a_question"
    NO_CONFIDENT_PRECEDENT = "no_confident_precedent"
    CATALOG_DISAGREES = "catalog_disagrees"
    RETRIEVAL_UNAVAILABLE = "retrieval_unavailable"


@dataclass(frozen=True)
class InstantAnswer:
    """What was done last time (scrubbed), by whom, the catalog entry behind it and how many cases agree.

    The precedent itself (another resident's complaint, scrubbed) is for workers; the API hides it from residents.
    """

    text: str
    party: str
    party_name: str
    precedent: Precedent
    entry: CatalogEntry | None
    similar_resolved_count: int


@dataclass(frozen=True)
class AnswerOutcome:
    """An answer, or the reason there is none."""

    answer: InstantAnswer | None
    reason: NoAnswerReason | None = None


class Answerer:
    """Decides whether a question has a confident answer among resolved cases."""

    def __init__(
        self,
        search: CaseSearch,
        catalog: Catalog,
        known_communities: Collection[str] | CommunityNames,
        *,
        min_similarity: float = DEFAULT_MIN_SIMILARITY,
    ) -> None:
        if not -1.0 <= min_similarity <= 1.0:
            raise ValueError(f"min_similarity must be a cosine in [-1, 1], got {min_similarity}")
        self._search = search
        self._catalog = catalog
        self._communities = community_names(known_communities)  # the table in service: asked at each use
        self._min_similarity = min_similarity

    def answer(self, text: str, community: str) -> AnswerOutcome:
        """The answer to `text` asked in `community`; InvalidArgument names bad fields, nothing else raises."""
        violations = [*check_text(text, "text"), *check_community(community, self._communities())]
        if violations:
            raise InvalidArgument.for_fields(violations)
        text = text.strip()
        if not reads_like_question(text):
            return AnswerOutcome(None, NoAnswerReason.NOT_A_QUESTION)
        try:
            precedents = self._search.similar_resolved(text, k=PRECEDENTS_ASKED)
        except LinliError as error:
            # The answer is a convenience: when retrieval cannot give one, the resident submits as usual.
            logger.warning("instant answer skipped: retrieval failed", extra={"error": str(error)})
            return AnswerOutcome(None, NoAnswerReason.RETRIEVAL_UNAVAILABLE)
        best = max(precedents, key=lambda p: p.score, default=None)
        if best is None or best.score < self._min_similarity or not best.resolution.strip():
            return AnswerOutcome(None, NoAnswerReason.NO_CONFIDENT_PRECEDENT)
        entry = self._entry_for(text, best)
        if entry is not None and entry.party != best.party:
            return AnswerOutcome(None, NoAnswerReason.CATALOG_DISAGREES)
        answer = InstantAnswer(
            text=scrub(best.resolution.strip()),
            party=best.party,
            party_name=self._party_name(best.party),
            precedent=Precedent(
                case_id=best.case_id,
                complaint=scrub(best.complaint),
                resolution=scrub(best.resolution),
                party=best.party,
                category=best.category,
                score=best.score,
            ),
            entry=entry,
            similar_resolved_count=sum(
                1 for p in precedents if p.score >= self._min_similarity and p.party == best.party
            ),
        )
        return AnswerOutcome(answer)

    def _entry_for(self, text: str, best: Precedent) -> CatalogEntry | None:
        """The catalog entry the question is about: the text's own match when clear, else the precedent's category."""
        matches = self._catalog.match(text, limit=1)
        if matches and matches[0][1] >= CATALOG_AGREEMENT_SCORE:
            return matches[0][0]
        try:
            return self._catalog.get(best.category)
        except LinliError:
            return None

    def _party_name(self, party: str) -> str:
        info = self._catalog.parties.get(party)
        return info.name if info is not None else display_name(party)
