"""Duplicate tickets: vectors as stored, the closest open ticket, and linking a ticket to its primary and back."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sqlalchemy.orm import Session

from services.intake.tickets import duplicate_queries, repository
from services.intake.tickets.context import EventKind, FlowContext, priority_of
from services.intake.tickets.models import Ticket, TicketStatus
from services.intake.tickets.vector_cache import VectorCache

Vector = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Embedding:
    """A ticket's text as a vector, and the model whose space it lives in."""

    vector: Vector
    model: str

    def to_bytes(self) -> bytes:
        """The stored form: little-endian float32."""
        return np.asarray(self.vector, dtype="<f4").tobytes()


def vector_of(ticket: Ticket) -> Vector | None:
    """The stored vector of a ticket, None when it has none."""
    if ticket.embedding is None:
        return None
    return np.frombuffer(ticket.embedding, dtype="<f4").astype(np.float32)


_CHINESE_DIGITS = {ch: n for n, ch in enumerate("零一二三四五六七八九", start=0)} | {"两": 2}
_NUMBER = r"([0-9]+|[零一二三四五六七八九十两]+)"
# The places a complaint names, by kind: the embedding hears "3号楼" and "5号楼" as the same words.
_PLACE_PATTERNS = {
    "building": re.compile(_NUMBER + r"\s*(?:号楼|栋|幢)"),
    "unit": re.compile(_NUMBER + r"\s*单元"),
    "gate": re.compile(r"([东南西北])\s*(?:大门|门)"),
}


def _number(token: str) -> str:
    if token.isdigit():
        return str(int(token))
    if token in _CHINESE_DIGITS:
        return str(_CHINESE_DIGITS[token])
    if "十" in token:  # 十, 十二, 二十, 二十三
        tens, _, ones = token.partition("十")
        return str(_CHINESE_DIGITS.get(tens, 1) * 10 + _CHINESE_DIGITS.get(ones, 0))
    return token


def places(text: str) -> dict[str, set[str]]:
    """The buildings, units and gates a text names, numbers normalised ("二号楼" is "2号楼")."""
    return {kind: {_number(m.group(1)) for m in pattern.finditer(text)} for kind, pattern in _PLACE_PATTERNS.items()}


def same_place(a: str, b: str) -> bool:
    """False when both texts name a place of one kind and none in common: the same words about two places."""
    first, second = places(a), places(b)
    return all(not first[kind] or not second[kind] or first[kind] & second[kind] for kind in _PLACE_PATTERNS)


# Mean Earth radius (IUGG): a sphere is within 0.5 % of the ellipsoid, far finer than a phone's fix.
EARTH_RADIUS_METERS = 6_371_008.8


def haversine_meters(latitude_1: float, longitude_1: float, latitude_2: float, longitude_2: float) -> float:
    """Great-circle distance in metres between two points given in degrees (WGS-84 on a spherical Earth)."""
    phi_1, phi_2 = math.radians(latitude_1), math.radians(latitude_2)
    half_chord = (
        math.sin((phi_2 - phi_1) / 2) ** 2
        + math.cos(phi_1) * math.cos(phi_2) * math.sin(math.radians(longitude_2 - longitude_1) / 2) ** 2
    )
    # min(): rounding can push the antipodes' value a hair above 1, outside asin's domain.
    return 2 * EARTH_RADIUS_METERS * math.asin(math.sqrt(min(half_chord, 1.0)))


def near_enough(ticket: Ticket, candidate: duplicate_queries.DuplicateCandidate, max_meters: float) -> bool:
    """False only when both carry a point and the points are more than `max_meters` apart (0: no limit)."""
    latitude, longitude = ticket.latitude, ticket.longitude
    other_latitude, other_longitude = candidate.latitude, candidate.longitude
    if max_meters <= 0 or latitude is None or longitude is None or other_latitude is None or other_longitude is None:
        return True  # a ticket without a point is judged by its text and the places it names, as before
    return haversine_meters(latitude, longitude, other_latitude, other_longitude) <= max_meters


@dataclass(frozen=True)
class Match:
    """The open ticket a new one duplicates, and how close they are."""

    primary: Ticket
    similarity: float


def find_primary(ticket: Ticket, context: FlowContext, *, session: Session, vectors: VectorCache) -> Match | None:
    """The earliest open ticket at or above the similarity threshold that names no other place and whose point (if
    both have one) is within the distance limit, in the window."""
    vector = vector_of(ticket)
    policy = context.policy
    if vector is None or policy.duplicate_window.total_seconds() <= 0:
        return None
    since = ticket.created_at - policy.duplicate_window
    ids = duplicate_queries.duplicate_candidate_ids(ticket, since=since, session=session)
    positions, matrix, norms = vectors.rows(ids, ticket.embedding_model, vector.shape[0], session=session)
    if not len(positions):
        return None
    # One product over every open ticket of the community; einsum, not BLAS, whose threads spin on the shared cores.
    norms = norms * float(np.linalg.norm(vector))
    products = np.einsum("ij,j->i", matrix, vector)
    similarities = np.divide(products, norms, out=np.zeros(len(positions), dtype=np.float32), where=norms > 0)
    similar = np.flatnonzero(similarities >= policy.duplicate_threshold)  # ascending: oldest first
    if not len(similar):
        return None
    candidates = duplicate_queries.duplicate_candidates([ids[positions[row]] for row in similar], session=session)
    for row in similar:
        candidate = candidates.get(ids[positions[row]])
        if (
            candidate is not None
            and same_place(ticket.text, candidate.text)
            and near_enough(ticket, candidate, policy.duplicate_max_distance_meters)
        ):
            return Match(repository.get(candidate.id, session=session), float(similarities[row]))
    return None


def link(ticket: Ticket, primary: Ticket, context: FlowContext, *, actor: str, note: str, party: str = "") -> None:
    """Folds `ticket` (and whatever was merged into it) into `primary`, whose reporter count and priority rise."""
    ticket.status = TicketStatus.MERGED.value
    ticket.primary_id = primary.id
    ticket.party = primary.party
    ticket.sla_due_at = None  # the primary's deadline is the one that counts
    context.record(ticket, EventKind.MERGED, actor, note=note, to_party=primary.party, party=party)
    primary.reporter_count += 1
    primary.priority = priority_of(primary.urgency, primary.reporter_count)
    context.record(primary, EventKind.DUPLICATE_LINKED, actor, note=f"工单 {ticket.id} 反映的是同一问题", party=party)


def adopt_followers(ticket: Ticket, primary: Ticket, *, session: Session) -> int:
    """Moves the tickets merged into `ticket` under `primary`; returns how many moved."""
    moved = repository.followers(ticket.id, session=session)
    for follower in moved:
        follower.primary_id = primary.id
        follower.party = primary.party
    primary.reporter_count += len(moved)
    ticket.reporter_count = 1
    return len(moved)


def unlink(ticket: Ticket, primary: Ticket, context: FlowContext, *, actor: str, note: str, party: str = "") -> None:
    """Separates `ticket` from `primary`: the primary loses a reporter, the ticket keeps only its own history."""
    ticket.primary_id = None
    primary.reporter_count = max(primary.reporter_count - 1, 1)
    primary.priority = priority_of(primary.urgency, primary.reporter_count)
    context.record(ticket, EventKind.UNMERGED, actor, note=note, from_party=primary.party, party=party)
    context.record(primary, EventKind.DUPLICATE_UNLINKED, actor, note=f"工单 {ticket.id} 已拆分为独立工单", party=party)
