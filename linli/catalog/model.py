"""The responsibility catalog (权责清单): which party handles which kind of complaint, why, and how fast.

A validated catalog version (see linli/catalog/loader.py for the YAML file) exposed as immutable dataclasses, with a
keyword and phrasing matcher that routing can use as an explainable signal next to the precedent vote.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from linli.catalog.matching import Matcher, normalise
from linli.catalog.records import CatalogEntry, PartyInfo, Source
from linli.catalog.validation import catalog_error, cross_reference_violations
from linli.errors import InvalidArgument, NotFound


@dataclass(frozen=True)
class Catalog:
    """A validated catalog version; lookups and `match` are precomputed at construction."""

    version: str
    parties: Mapping[str, PartyInfo]
    entries: tuple[CatalogEntry, ...]
    sources: Mapping[str, Source] = field(default_factory=lambda: MappingProxyType({}))
    _by_id: Mapping[str, CatalogEntry] = field(init=False, repr=False, compare=False)
    _matcher: Matcher = field(init=False, repr=False, compare=False)
    _keyword_forms: Mapping[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        violations = cross_reference_violations(self.parties, self.sources, self.entries)
        if violations:
            raise catalog_error(f"catalog {self.version}", violations)
        # Read-only views, so a shared catalog cannot be changed under the router's feet.
        object.__setattr__(self, "parties", MappingProxyType(dict(self.parties)))
        object.__setattr__(self, "sources", MappingProxyType(dict(self.sources)))
        object.__setattr__(self, "entries", tuple(self.entries))
        object.__setattr__(self, "_by_id", MappingProxyType({entry.id: entry for entry in self.entries}))
        object.__setattr__(self, "_matcher", Matcher(self.entries))
        forms = {entry.id: tuple(map(normalise, entry.keywords)) for entry in self.entries}
        object.__setattr__(self, "_keyword_forms", MappingProxyType(forms))

    def get(self, entry_id: str) -> CatalogEntry:
        """The entry with this id; NotFound when the catalog has none."""
        try:
            return self._by_id[entry_id]
        except KeyError:
            raise NotFound(f"catalog {self.version} has no entry {entry_id!r}") from None

    def by_party(self, party: str) -> tuple[CatalogEntry, ...]:
        """The entries a party is primarily responsible for, in file order; NotFound for an unknown party."""
        if party not in self.parties:
            raise NotFound(f"catalog {self.version} has no party {party!r}; known: {', '.join(self.parties)}")
        return tuple(entry for entry in self.entries if entry.party == party)

    def match(self, text: str, limit: int = 3) -> list[tuple[CatalogEntry, float]]:
        """Entries the text talks about, best first, each with a score in [0, 1]; empty when nothing matches.

        The score grows with how much of the text is covered by entry-specific keywords and phrasing fragments
        (long, rare overlaps count most), so "楼道灯坏了" scores high and "你好,想反映个问题" about zero.
        """
        if limit < 1:
            raise InvalidArgument.for_field("limit", f"must be at least 1, got {limit}")
        return [(self.entries[index], score) for index, score in self._matcher.rank(text, limit)]

    def keywords_in(self, text: str, entry: CatalogEntry) -> tuple[str, ...]:
        """The entry's keywords that `text` contains (case and particles ignored, as `match` does).

        A curated keyword names the topic outright, where a high `match` score can also come from several
        phrasing fragments that a short passage happens to share ("我怕到时候说不清楚").
        """
        forms = self._keyword_forms.get(entry.id)
        if forms is None:  # an entry of another catalog
            return ()
        normal = normalise(text)
        return tuple(keyword for keyword, form in zip(entry.keywords, forms, strict=True) if form in normal)
