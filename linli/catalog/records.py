"""The catalog's records: parties, sources and issue-type entries, and the error a bad catalog raises."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from linli.errors import InvalidArgument

Urgency = Literal["emergency", "urgent", "normal"]
EscalationLevel = Literal["building", "community", "street"]  # 楼组/网格 → 社区/居委会 → 街道

ESCALATION_ORDER: tuple[EscalationLevel, ...] = ("building", "community", "street")
URGENCIES: tuple[Urgency, ...] = get_args(Urgency)
MIN_PHRASINGS = 3


class CatalogError(InvalidArgument):
    """The catalog is unreadable or breaks the schema; `violations` names each bad field (e.g. entries[x].party)."""


@dataclass(frozen=True)
class PartyInfo:
    """A party complaints are routed to: its id, Chinese name and what it is responsible for."""

    id: str
    name: str
    description: str


@dataclass(frozen=True)
class Source:
    """A legal or regulatory text an entry's responsibility rests on."""

    id: str
    citation: str


@dataclass(frozen=True)
class CatalogEntry:
    """One issue type: how residents say it, who is responsible and why, and how fast it must be handled."""

    id: str
    name: str
    description: str
    phrasings: tuple[str, ...]
    keywords: tuple[str, ...]
    party: str
    co_parties: tuple[str, ...]
    basis: str
    basis_sources: tuple[str, ...]
    sla_hours: int
    urgency: Urgency
    escalation_level: EscalationLevel
