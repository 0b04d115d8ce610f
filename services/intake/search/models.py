"""What a ticket search asks and finds, and the search structures migration 0013 adds beside the models.

No ORM table here: the structures are an FTS5 table and triggers (SQLite) or indexes and a function (PostgreSQL)
that only migration 0013 creates; `is_search_structure` tells schema comparisons to leave them alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum

from linli.errors import InvalidArgument
from services.intake.tickets.models import TicketStatus

# The columns searched by words (the ticket number is searched by its prefix).
SEARCHED_COLUMNS = ("text", "building", "resolution")
# Longest query: a sentence pasted from a ticket is fine, a pasted document is refused.
MAX_QUERY_CHARS = 100
# One character is no search in Chinese: 水 or 楼 is in most tickets.
MIN_QUERY_CHARS = 2
# The console shows the first eight characters of a ticket number; six already narrow 16.7 million ways.
MIN_TICKET_NUMBER_CHARS = 6
# Trigram indexes need three characters; shorter words go through the character-pair index (PostgreSQL) or a scan
# bounded by the caller's scope (SQLite).
TRIGRAM = 3

_TICKET_NUMBER = re.compile(r"[0-9a-f]{6,32}")
_SQLITE_TABLES = frozenset({"ticket_search", "ticket_search_docs"})
_SQLITE_FTS_SHADOWS = ("_data", "_idx", "_content", "_docsize", "_config")
_PG_INDEXES = frozenset(f"ix_tickets_{c}_{kind}" for c in SEARCHED_COLUMNS for kind in ("trgm", "bigrams"))


class MatchTier(IntEnum):
    """How well a ticket matches, best first: its number, its building, its text, then only its resolution."""

    TICKET_NUMBER = 0
    BUILDING = 1
    TEXT = 2
    RESOLUTION = 3


@dataclass(frozen=True)
class SearchRequest:
    """A worker's search: the words, the listing filters, and the page."""

    q: str
    status: TicketStatus | None = None
    community: str | None = None
    page_size: int = 20
    page_token: str = ""


@dataclass(frozen=True)
class Snippet:
    """The passage of a field that matched: what comes before the query, the matched text, what comes after."""

    field: str
    before: str
    match: str
    after: str


def normalized_query(q: str) -> str:
    """The query with outer and repeated whitespace removed; InvalidArgument when too short or too long."""
    words = " ".join(q.split())
    if len(words) < MIN_QUERY_CHARS:
        raise InvalidArgument.for_field("q", f"请输入至少 {MIN_QUERY_CHARS} 个字")
    if len(words) > MAX_QUERY_CHARS:
        raise InvalidArgument.for_field("q", f"最多 {MAX_QUERY_CHARS} 个字")
    return words


def ticket_number_prefix(q: str) -> str | None:
    """The lower-case ticket number (or its first characters) `q` may be, else None."""
    candidate = q.strip().lower()
    return candidate if _TICKET_NUMBER.fullmatch(candidate) else None


def is_search_structure(name: str | None) -> bool:
    """True for a table or index of migration 0013 that the models do not declare (FTS5 tables and their shadow
    tables, trigram and character-pair indexes)."""
    if not name:
        return False
    if name in _SQLITE_TABLES or name in _PG_INDEXES:
        return True
    return any(name == f"ticket_search{suffix}" for suffix in _SQLITE_FTS_SHADOWS)
