"""Composes the suggested resolution a worker sees: what closely similar cases did, the deadline and who starts.

Everything in the text comes from the precedents, the responsibility catalog or fixed wording; nothing is made up.
The same inputs always give the same text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from linli.catalog import ESCALATION_ORDER, CatalogEntry, EscalationLevel
from linli.errors import InvalidArgument
from linli.parties import OWNERS_COMMITTEE, PROPERTY_MANAGER, STREET_OFFICE, display_name, is_party_id
from linli.v1 import cases_pb2
from services.routing.urgency import UrgencyFinding

_scrub_pii: Callable[[str], str] | None
try:
    from linli.pii import scrub as _pii_scrub

    _scrub_pii = _pii_scrub
except ImportError:  # linli.pii is being written alongside; retrieval already scrubs resolutions before storing them
    _scrub_pii = None

DEFAULT_SLA_HOURS: Final = 72
EMERGENCY_MAX_SLA_HOURS: Final = 2
URGENT_MAX_SLA_HOURS: Final = 24
DEFAULT_ESCALATION_LEVEL: Final[EscalationLevel] = "community"
# An emergency starts where someone with authority sees it at once.
EMERGENCY_MIN_ESCALATION_LEVEL: Final[EscalationLevel] = "community"
# m3e-small puts even unrelated complaints at 0.77-0.84 cosine (starter corpus: 90% of nearest neighbours score
# 0.80 or more, whatever their category), so a resolution is copied only from a precedent at least that close.
MIN_PRECEDENT_SIMILARITY: Final = 0.80
# The second precedent must be nearly as close as the best (0.05 is the vote's temperature: weight >= 1/e).
SECOND_PRECEDENT_MARGIN: Final = 0.05
MAX_PRECEDENTS: Final = 2
MAX_CHARS: Final = 300
# Character-bigram Dice similarity from which two sentences say the same ("已派电工更换灯泡" / "派电工更换了灯泡").
NEAR_DUPLICATE: Final = 0.7

_LEVEL_NAMES: Final[dict[EscalationLevel, str]] = {
    "building": "楼组/网格",
    "community": "社区(居委会)",
    "street": "街道",
}
_GENERIC_ADVICE: Final[dict[str, str]] = {
    PROPERTY_MANAGER: "请物业派人到场核实情况,按物业服务合同处理,并把处理结果回复居民。",
    OWNERS_COMMITTEE: "请业委会核实情况;需业主共同决定的事项按议事规则提交业主大会表决,并向居民公开进展。",
    STREET_OFFICE: "请社区网格员核实情况,协调街道相关部门依法处理,并把处理结果回复居民。",
}
# Sentence and clause ends, full-width (。！？；) and ASCII; escaped so the two kinds stay visible.
_TERMINATORS: Final = "\u3002\uff01\uff1f\uff1b!?;"
_SEMICOLONS: Final = ("\uff1b", ";")
_SENTENCE: Final = re.compile(f"[^{_TERMINATORS}\n]+[{_TERMINATORS}]?")
_PLACEHOLDER: Final = re.compile(r"\[[^\[\]]{1,8}\]")  # what linli.pii.scrub leaves, e.g. [手机号]
# Punctuation and particles: "更换了灯泡。" and "更换灯泡" say the same.
_NOT_CONTENT: Final = re.compile(r"[^0-9A-Za-z\u3400-\u9fff]|[的了着过吗呢啊吧呀]")


@dataclass(frozen=True)
class Suggestion:
    """The suggested resolution and the two figures it states.

    Attributes:
        text: Chinese text for the worker, at most `MAX_CHARS` characters.
        sla_hours: Handling deadline in hours from submission.
        escalation_level: Where on the ladder the ticket starts: "building", "community" or "street".
    """

    text: str
    sla_hours: int
    escalation_level: EscalationLevel


def compose_suggestion(
    *,
    party: str,
    entry: CatalogEntry | None,
    precedents: Sequence[cases_pb2.ScoredCase],
    urgency: UrgencyFinding | None,
    now: datetime | None = None,
    min_similarity: float = MIN_PRECEDENT_SIMILARITY,
) -> Suggestion:
    """Composes the suggestion for a ticket routed to `party`.

    The body is the resolution of the one or two closest resolved precedents of `party` (near-identical sentences
    said once), else the catalog entry's basis, else a short instruction for the party. An urgent or emergency
    ticket starts with the urgency notice; the text ends with the deadline and the starting escalation level.

    Args:
        party: The chosen party id, e.g. "property_manager".
        entry: The matched responsibility-catalog entry, if any; gives the SLA and the starting level.
        precedents: Retrieved cases with similarity scores, any order and any party.
        urgency: What the urgency detector found, if anything.
        now: When the ticket was submitted, timezone-aware; when given, the deadline is also stated as a time of
            day in that timezone.
        min_similarity: Precedents less similar than this are not quoted.

    Raises:
        InvalidArgument: `party` is not a party id, `now` is naive or `min_similarity` is outside [-1, 1].
    """
    if not is_party_id(party):
        raise InvalidArgument.for_field("party", f"must be a party id such as {PROPERTY_MANAGER!r}, got {party!r}")
    if now is not None and now.utcoffset() is None:
        raise InvalidArgument.for_field("now", "must be timezone-aware, so the deadline is shown in a known zone")
    if not -1.0 <= min_similarity <= 1.0:
        raise InvalidArgument.for_field("min_similarity", f"must be a cosine in [-1, 1], got {min_similarity}")
    sla_hours = _sla_hours(entry, urgency)
    level = _starting_level(entry, urgency)
    head = "" if urgency is None else f"【{'紧急' if urgency.level == 'emergency' else '加急'}】{urgency.notice}"
    tail = _deadline_sentence(sla_hours, entry, urgency, now) + _level_sentence(level, entry)
    label, sentences = _body(party, entry, _chosen(party, precedents, min_similarity))
    body = _fit(sentences, MAX_CHARS - len(head) - len(label) - len(tail))
    return Suggestion(text=f"{head}{label}{body}{tail}", sla_hours=sla_hours, escalation_level=level)


def _sla_hours(entry: CatalogEntry | None, urgency: UrgencyFinding | None) -> int:
    hours = entry.sla_hours if entry is not None else DEFAULT_SLA_HOURS
    if urgency is None:
        return hours
    return min(hours, EMERGENCY_MAX_SLA_HOURS if urgency.level == "emergency" else URGENT_MAX_SLA_HOURS)


def _starting_level(entry: CatalogEntry | None, urgency: UrgencyFinding | None) -> EscalationLevel:
    level = entry.escalation_level if entry is not None else DEFAULT_ESCALATION_LEVEL
    if urgency is not None and urgency.level == "emergency":
        return max(level, EMERGENCY_MIN_ESCALATION_LEVEL, key=ESCALATION_ORDER.index)
    return level


def _chosen(party: str, precedents: Sequence[cases_pb2.ScoredCase], floor: float) -> list[cases_pb2.ScoredCase]:
    """The closest resolved precedents of `party` worth quoting, best first (ties by case id, for determinism)."""
    usable = sorted(
        (
            precedent
            for precedent in precedents
            if precedent.case.party == party
            and precedent.score >= floor
            and precedent.case.status != cases_pb2.CASE_STATUS_OPEN
            and precedent.case.resolution.strip()
        ),
        key=lambda precedent: (-precedent.score, precedent.case.id),
    )
    if not usable:
        return []
    best = usable[0].score
    return [precedent for precedent in usable[:MAX_PRECEDENTS] if precedent.score >= best - SECOND_PRECEDENT_MARGIN]


def _body(party: str, entry: CatalogEntry | None, chosen: list[cases_pb2.ScoredCase]) -> tuple[str, list[str]]:
    """The label and sentences of the body, from the precedents, else the catalog, else the party's generic advice."""
    quoted: list[str] = []
    for precedent in chosen:
        resolution = precedent.case.resolution
        quoted += _sentences(_scrub_pii(resolution) if _scrub_pii else resolution)
    if distinct := _distinct(quoted):  # empty when the resolutions were nothing but personal data
        return "参考办法:", distinct
    if entry is not None:
        if entry.party == party:
            return "处理依据:", _sentences(entry.basis)
        main, own = display_name(entry.party), display_name(party)
        role = f"{own}协办,请配合处理" if party in entry.co_parties else f"请{own}核实后处理或转派"
        return "注意:", [f"按权责清单「{entry.name}」,此事由{main}主责,{role}。"]
    generic = _GENERIC_ADVICE.get(party, f"请{display_name(party)}核实情况,尽快处理并把结果回复居民。")
    return "建议:", [generic]


def _sentences(text: str) -> list[str]:
    """Sentences and semicolon clauses, each ending with its punctuation (。 when it had none)."""
    pieces = (piece.strip() for piece in _SENTENCE.findall(text))
    return [piece if piece[-1] in _TERMINATORS else piece + "。" for piece in pieces if piece]


def _distinct(sentences: list[str]) -> list[str]:
    """The sentences in order, without those that repeat an earlier one in other words."""
    kept: list[str] = []
    seen: list[tuple[str, set[str]]] = []
    for sentence in sentences:
        content = _NOT_CONTENT.sub("", sentence)
        bigrams = {content[i : i + 2] for i in range(len(content) - 1)} or {content}
        if not content or any(_same_content(content, bigrams, other, other_bigrams) for other, other_bigrams in seen):
            continue
        if len(_NOT_CONTENT.sub("", _PLACEHOLDER.sub("", sentence))) * 2 <= len(content):
            continue  # mostly scrubbed personal data ("联系人[姓名][手机号]"): nothing a new ticket can use
        kept.append(sentence)
        seen.append((content, bigrams))
    return kept


def _same_content(content: str, bigrams: set[str], other: str, other_bigrams: set[str]) -> bool:
    if content in other or other in content:
        return True
    return 2 * len(bigrams & other_bigrams) / (len(bigrams) + len(other_bigrams)) >= NEAR_DUPLICATE


def _fit(sentences: list[str], budget: int) -> str:
    """As many whole sentences as fit in `budget` characters, the first one cut with … if even it does not fit."""
    text = ""
    for sentence in sentences:
        if len(text) + len(sentence) > budget:
            break
        text += sentence
    if not text and sentences and budget > 1:
        text = sentences[0][: budget - 1] + "…"
    # The body ends a thought: a trailing semicolon clause becomes a sentence.
    return text[:-1] + "。" if text.endswith(_SEMICOLONS) else text


def _deadline_sentence(
    sla_hours: int, entry: CatalogEntry | None, urgency: UrgencyFinding | None, now: datetime | None
) -> str:
    due = ""
    if now is not None:
        deadline = now + timedelta(hours=sla_hours)
        due = f",即{deadline.month}月{deadline.day}日{deadline:%H:%M}前"
    shortened = urgency is not None and sla_hours < (entry.sla_hours if entry is not None else DEFAULT_SLA_HOURS)
    if shortened and urgency is not None:
        reason = "紧急" if urgency.level == "emergency" else "加急"
        source = f",权责清单「{entry.name}」原为{entry.sla_hours}小时" if entry is not None else ""
        return f"处理时限:{sla_hours}小时内{due}({reason}{source})。"
    source = f"按权责清单「{entry.name}」" if entry is not None else "默认时限"
    return f"处理时限:{sla_hours}小时内{due}({source})。"


def _level_sentence(level: EscalationLevel, entry: CatalogEntry | None) -> str:
    raised = entry is not None and ESCALATION_ORDER.index(level) > ESCALATION_ORDER.index(entry.escalation_level)
    start = "紧急情况直接由" if raised else "首先由"
    rung = ESCALATION_ORDER.index(level)
    if rung + 1 < len(ESCALATION_ORDER):
        return f"{start}{_LEVEL_NAMES[level]}处理,逾期升级至{_LEVEL_NAMES[ESCALATION_ORDER[rung + 1]]}。"
    return f"{start}{_LEVEL_NAMES[level]}处理。"
