"""Route of instant answers: POST /v1/answers, for residents and workers."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from services.intake.answers.flows import Answerer, AnswerOutcome
from services.intake.auth.access import require_resident_or_worker
from services.intake.auth.http import CallerDep
from services.intake.auth.identity import Caller, Worker


class AskBody(BaseModel):
    """A resident's text before it becomes a ticket."""

    model_config = ConfigDict(extra="forbid", strict=True)

    text: str = Field(description="What the resident typed, 2-2,000 characters.", examples=["楼道灯坏了归谁管?"])
    community: str = Field(description="Residential community, one linli serves.", examples=["恒康居民区"])


class PrecedentOut(BaseModel):
    """The resolved case the answer comes from (scrubbed of personal data); shown to workers only."""

    case_id: str
    complaint: str
    resolution: str
    score: float


class EntryOut(BaseModel):
    """The responsibility-catalog entry the question is about."""

    entry_id: str
    name: str
    party: str
    basis: str
    sla_hours: int


class InstantAnswerOut(BaseModel):
    """What to show before the resident submits."""

    text: str = Field(description="What was done last time, scrubbed.")
    party: str
    party_name: str
    similar_resolved_count: int = Field(description="How many similar resolved cases of this party answered it.")
    precedent: PrecedentOut | None = Field(
        description="Workers: the precedent, scrubbed. Residents: always null (another resident's complaint)."
    )
    catalog_entry: EntryOut | None


class AnswerOut(BaseModel):
    """An instant answer, or why there is none (then the page submits the ticket as usual)."""

    answered: bool
    reason: str = Field(description="not_a_question, no_confident_precedent, catalog_disagrees, retrieval_unavailable")
    answer: InstantAnswerOut | None


def answer_out(outcome: AnswerOutcome, reader: Caller) -> AnswerOut:
    """The API form of an answer outcome as `reader` may read it: only workers see the precedent."""
    found = outcome.answer
    if found is None:
        return AnswerOut(answered=False, reason=outcome.reason.value if outcome.reason else "", answer=None)
    entry = found.entry
    return AnswerOut(
        answered=True,
        reason="",
        answer=InstantAnswerOut(
            text=found.text,
            party=found.party,
            party_name=found.party_name,
            similar_resolved_count=found.similar_resolved_count,
            precedent=PrecedentOut(
                case_id=found.precedent.case_id,
                complaint=found.precedent.complaint,
                resolution=found.precedent.resolution,
                score=round(found.precedent.score, 4),
            )
            if isinstance(reader, Worker)
            else None,
            catalog_entry=EntryOut(
                entry_id=entry.id, name=entry.name, party=entry.party, basis=entry.basis, sla_hours=entry.sla_hours
            )
            if entry
            else None,
        ),
    )


def answer_routes(answerer: Callable[[], Answerer]) -> APIRouter:
    """POST /v1/answers; `answerer` gives the Answerer (built on first use, when settings are read)."""
    router = APIRouter(prefix="/v1", tags=["answers"])

    @router.post("/answers", response_model=AnswerOut)
    def ask(body: AskBody, caller: CallerDep) -> AnswerOut:
        """An instant answer from a confidently similar resolved case, when the text is a question; stores nothing.

        Needs a resident's or a worker's token. Residents read the scrubbed resolution and how many cases agree;
        only workers see the precedent itself (scrubbed), which is another resident's complaint.
        """
        require_resident_or_worker(caller)
        return answer_out(answerer().answer(body.text, body.community), caller)

    return router
