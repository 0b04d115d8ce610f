"""The responsibility catalog (权责清单): which party handles which kind of complaint, why, and how fast.

The catalog is a versioned YAML file (`data/responsibility_catalog.yaml`, described in docs/catalog.md). It is
validated field by field when loaded and exposed as immutable dataclasses, with a keyword and phrasing matcher that
routing can use as an explainable signal next to the precedent vote.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, get_args

import yaml

from linli.errors import FieldViolation, InvalidArgument, NotFound
from linli.parties import is_party_id

Urgency = Literal["emergency", "urgent", "normal"]
EscalationLevel = Literal["building", "community", "street"]  # 楼组/网格 → 社区/居委会 → 街道

ESCALATION_ORDER: tuple[EscalationLevel, ...] = ("building", "community", "street")
URGENCIES: tuple[Urgency, ...] = get_args(Urgency)
DEFAULT_CATALOG_PATH = Path(__file__).with_name("data") / "responsibility_catalog.yaml"
MIN_PHRASINGS = 3

_ENTRY_FIELDS = frozenset(
    {"id", "name", "description", "phrasings", "keywords", "party", "co_parties", "basis", "basis_sources"}
    | {"sla_hours", "urgency", "escalation_level"}
)
_TOP_LEVEL_FIELDS = frozenset({"version", "parties", "sources", "entries"})
_ENTRY_ID = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")
_VERSION = re.compile(r"^\d{4}\.\d{1,2}\.\d+$")  # calendar version: YYYY.MM.N


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


@dataclass(frozen=True)
class Catalog:
    """A validated catalog version; lookups and `match` are precomputed at construction."""

    version: str
    parties: Mapping[str, PartyInfo]
    entries: tuple[CatalogEntry, ...]
    sources: Mapping[str, Source] = field(default_factory=lambda: MappingProxyType({}))
    _by_id: Mapping[str, CatalogEntry] = field(init=False, repr=False, compare=False)
    _matcher: _Matcher = field(init=False, repr=False, compare=False)
    _keyword_forms: Mapping[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        violations = _cross_reference_violations(self.parties, self.sources, self.entries)
        if violations:
            raise _catalog_error(f"catalog {self.version}", violations)
        # Read-only views, so a shared catalog cannot be changed under the router's feet.
        object.__setattr__(self, "parties", MappingProxyType(dict(self.parties)))
        object.__setattr__(self, "sources", MappingProxyType(dict(self.sources)))
        object.__setattr__(self, "entries", tuple(self.entries))
        object.__setattr__(self, "_by_id", MappingProxyType({entry.id: entry for entry in self.entries}))
        object.__setattr__(self, "_matcher", _Matcher(self.entries))
        forms = {entry.id: tuple(map(_normalise, entry.keywords)) for entry in self.entries}
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
        normal = _normalise(text)
        return tuple(keyword for keyword, form in zip(entry.keywords, forms, strict=True) if form in normal)


def load_catalog(path: Path | None = None) -> Catalog:
    """Loads and validates a catalog file (default: the packaged one); CatalogError names every bad field."""
    source_path = path or DEFAULT_CATALOG_PATH
    try:
        raw = yaml.safe_load(source_path.read_text(encoding="utf-8"))
    except OSError as error:
        raise CatalogError(f"cannot read catalog {source_path}: {error.strerror or error}") from error
    except yaml.YAMLError as error:
        raise CatalogError(f"catalog {source_path} is not valid YAML: {error}") from error
    violations: list[FieldViolation] = []
    version, parties, sources, entries = _parse(raw, violations)
    if not violations:
        violations = _cross_reference_violations(parties, sources, entries)
    if violations:
        raise _catalog_error(f"invalid catalog {source_path}", violations)
    return Catalog(version=version, parties=parties, entries=entries, sources=sources)


def _catalog_error(origin: str, violations: list[FieldViolation]) -> CatalogError:
    message = "; ".join(f"{v.field}: {v.description}" for v in violations)
    return CatalogError(f"{origin}: {message}", violations=tuple(violations))


# ─── parsing: shapes and types ─────────────────────────────────────────────────────────────────────────────────


def _parse(
    raw: object, out: list[FieldViolation]
) -> tuple[str, dict[str, PartyInfo], dict[str, Source], tuple[CatalogEntry, ...]]:
    if not isinstance(raw, dict):
        out.append(FieldViolation("(top level)", "must be a mapping with version, parties, sources and entries"))
        return "", {}, {}, ()
    for unknown in sorted(set(raw) - _TOP_LEVEL_FIELDS, key=str):
        out.append(FieldViolation(str(unknown), "unknown top-level field"))
    version = _text(raw, "version", "", out)
    if version and not _VERSION.match(version):
        out.append(FieldViolation("version", f"must look like YYYY.MM.N (e.g. 2026.11.1), got {version!r}"))
    parties, sources = _parse_parties(raw.get("parties"), out), _parse_sources(raw.get("sources"), out)
    entries = (_parse_entry(item, index, out) for index, item in enumerate(_list(raw, "entries", "", out)))
    return version, parties, sources, tuple(entry for entry in entries if entry is not None)


def _parse_parties(raw: object, out: list[FieldViolation]) -> dict[str, PartyInfo]:
    if not isinstance(raw, dict) or not raw:
        out.append(FieldViolation("parties", "must map each party id to its name and description"))
        return {}
    parties: dict[str, PartyInfo] = {}
    for party_id, info in raw.items():
        where = f"parties[{party_id}]"
        if not isinstance(party_id, str) or not is_party_id(party_id):
            out.append(FieldViolation(where, "party ids are short snake_case words"))
        elif not isinstance(info, dict):
            out.append(FieldViolation(where, "must have a name and a description"))
        else:
            name, description = _text(info, "name", where, out), _text(info, "description", where, out)
            parties[party_id] = PartyInfo(party_id, name, description)
    return parties


def _parse_sources(raw: object, out: list[FieldViolation]) -> dict[str, Source]:
    if not isinstance(raw, list):
        out.append(FieldViolation("sources", "must be a list of {id, citation}"))
        return {}
    sources: dict[str, Source] = {}
    for index, item in enumerate(raw):
        where = f"sources[{index}]"
        if not isinstance(item, dict):
            out.append(FieldViolation(where, "must be a mapping with id and citation"))
            continue
        source = Source(_text(item, "id", where, out), _text(item, "citation", where, out))
        if source.id in sources:
            out.append(FieldViolation(f"sources[{source.id}].id", "duplicate source id"))
        sources[source.id] = source
    return sources


def _parse_entry(raw: object, index: int, out: list[FieldViolation]) -> CatalogEntry | None:
    if not isinstance(raw, dict):
        out.append(FieldViolation(f"entries[{index}]", "must be a mapping"))
        return None
    entry_id = raw.get("id")
    where = f"entries[{entry_id}]" if isinstance(entry_id, str) and entry_id else f"entries[{index}]"
    for unknown in sorted(set(raw) - _ENTRY_FIELDS, key=str):
        out.append(FieldViolation(f"{where}.{unknown}", "unknown field"))
    entry_id = _text(raw, "id", where, out)
    if entry_id and not _ENTRY_ID.match(entry_id):
        out.append(FieldViolation(f"{where}.id", "must be snake_case English (a-z, 0-9, _), e.g. lift_breakdown"))
    sla_hours = raw.get("sla_hours")
    if not isinstance(sla_hours, int) or isinstance(sla_hours, bool):
        out.append(FieldViolation(f"{where}.sla_hours", f"must be a whole number of hours, got {sla_hours!r}"))
        sla_hours = 0
    return CatalogEntry(
        id=entry_id,
        name=_text(raw, "name", where, out),
        description=_text(raw, "description", where, out),
        phrasings=_texts(raw, "phrasings", where, out),
        keywords=_texts(raw, "keywords", where, out),
        party=_text(raw, "party", where, out),
        co_parties=_texts(raw, "co_parties", where, out),
        basis=_text(raw, "basis", where, out),
        basis_sources=_texts(raw, "basis_sources", where, out),
        sla_hours=sla_hours,
        urgency=_text(raw, "urgency", where, out),  # type: ignore[arg-type]  # checked against URGENCIES next
        escalation_level=_text(raw, "escalation_level", where, out),  # type: ignore[arg-type]  # likewise
    )


def _field_name(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _text(raw: Mapping[str, Any], key: str, where: str, out: list[FieldViolation]) -> str:
    value = raw.get(key)
    if isinstance(value, str) and value.strip():
        return value.strip()
    problem = "is required" if value is None else "must be a non-empty string"
    out.append(FieldViolation(_field_name(where, key), problem))
    return ""


def _list(raw: Mapping[str, Any], key: str, where: str, out: list[FieldViolation]) -> list[Any]:
    value = raw.get(key)
    if isinstance(value, list):
        return value
    out.append(FieldViolation(_field_name(where, key), "is required (a list)" if value is None else "must be a list"))
    return []


def _texts(raw: Mapping[str, Any], key: str, where: str, out: list[FieldViolation]) -> tuple[str, ...]:
    values = _list(raw, key, where, out)
    if all(isinstance(value, str) and value.strip() for value in values):
        return tuple(value.strip() for value in values)
    out.append(FieldViolation(_field_name(where, key), "every item must be a non-empty string"))
    return ()


# ─── validation: references and values ─────────────────────────────────────────────────────────────────────────


def _cross_reference_violations(
    parties: Mapping[str, PartyInfo], sources: Mapping[str, Source], entries: Sequence[CatalogEntry]
) -> list[FieldViolation]:
    out: list[FieldViolation] = []
    seen: set[str] = set()
    known_parties = ", ".join(parties) or "(none)"
    for entry in entries:

        def add(name: str, description: str, entry_id: str = entry.id) -> None:
            out.append(FieldViolation(f"entries[{entry_id}].{name}", description))

        if entry.id in seen:
            add("id", "duplicate id: entry ids must be unique (and stable)")
        seen.add(entry.id)
        if entry.party not in parties:
            add("party", f"unknown party {entry.party!r}; known: {known_parties}")
        for co_party in entry.co_parties:
            if co_party == entry.party:
                add("co_parties", f"lists the entry's own party {co_party!r}")
            elif co_party not in parties:
                add("co_parties", f"unknown party {co_party!r}; known: {known_parties}")
        if len(set(entry.co_parties)) != len(entry.co_parties):
            add("co_parties", "lists a party twice")
        if not entry.basis_sources:
            add("basis_sources", "needs at least one source id")
        for source_id in entry.basis_sources:
            if source_id not in sources:
                add("basis_sources", f"unknown source id {source_id!r}")
        if entry.sla_hours <= 0:
            add("sla_hours", f"must be a positive number of hours, got {entry.sla_hours}")
        if entry.urgency not in URGENCIES:
            add("urgency", f"must be one of {', '.join(URGENCIES)}, got {entry.urgency!r}")
        if entry.escalation_level not in ESCALATION_ORDER:
            add("escalation_level", f"must be one of {', '.join(ESCALATION_ORDER)}, got {entry.escalation_level!r}")
        if len(entry.phrasings) < MIN_PHRASINGS:
            add("phrasings", f"needs at least {MIN_PHRASINGS} phrasings, got {len(entry.phrasings)}")
        if not entry.keywords:
            add("keywords", "needs at least one keyword")
        for keyword in entry.keywords:
            normal = _normalise(keyword)
            if len(normal) < 2 or "|" in normal:
                add("keywords", f"{keyword!r} must be one word of at least 2 characters (particles like 的/了 ignored)")
    return out


# ─── matching ──────────────────────────────────────────────────────────────────────────────────────────────────

# Particles carry no topic and vary freely between "楼道的灯坏了" and "楼道灯坏", so both sides drop them.
_FILLERS = frozenset("的了吗呢啊吧呀嘛啦哦么")
_WORD_RUNS = re.compile(r"[0-9a-z\u3400-\u9fff]+")
_MAX_GRAM = 8
# A shared bigram is weak evidence (many are generic, "问题", "一直"); three characters in a row rarely are.
_BIGRAM_WEIGHT = 0.5
# Colloquial boilerplate that any complaint may carry ("怎么还没人来", "到底管不管"): the catalog alone is too small
# to learn that these are generic, so fragments inside them weigh nothing.
# Space-separated; _normalise turns the spaces into fragment boundaries.
_BOILERPLATE = (
    "怎么办 怎么回事 怎么还 为什么 什么时候 有没有 能不能 可不可以 要不要 管不管 "
    "没人管 没人来 没人修 没人清 没人理 不理 还没人 一直 我想 我要 天气 好几天 好几个 "
    "天天 每天 到底 根本 已经 现在 尽快 麻烦 处理 解决 反映 投诉 问题 请问 谢谢 "
    "你们 我们 我家 大家 一下 太不 说了也不听"
)
# A keyword is a curated, distinctive term: it counts more than the same characters inside a phrasing.
_KEYWORD_WEIGHT = 1.5
# Evidence (roughly: specific characters explained) that maps to a score of 1 - 1/e ≈ 0.63.
_EVIDENCE_SCALE = 3.0
_MIN_SCORE = 0.05
# The subject of a complaint is in its first sentences; a cap keeps a 2,000-character text fast.
_MAX_TEXT_CHARS = 400


def _normalise(text: str) -> str:
    """Lower-cased NFKC word runs without particles, joined by '|' so no fragment spans a punctuation mark."""
    folded = unicodedata.normalize("NFKC", text).lower()
    runs = ("".join(char for char in run if char not in _FILLERS) for run in _WORD_RUNS.findall(folded))
    return "|".join(run for run in runs if run)


class _Matcher:
    """An index of every 2..8-character fragment of each entry's name, phrasings and keywords.

    A fragment's weight is its inverse entry frequency scaled to [0, 1] (1 = only one entry uses it), so text that
    shares long, rare fragments with an entry is strong evidence for it and shared generic words are not.
    """

    def __init__(self, entries: Sequence[CatalogEntry]) -> None:
        holders: dict[str, set[int]] = defaultdict(set)
        for index, entry in enumerate(entries):
            for text in (entry.name, *entry.phrasings, *entry.keywords):
                for run in _normalise(text).split("|"):
                    for start in range(len(run) - 1):
                        for end in range(start + 2, min(start + _MAX_GRAM, len(run)) + 1):
                            holders[run[start:end]].add(index)
        log_total = math.log(len(entries) + 1)
        generic = _normalise(_BOILERPLATE)

        def specificity(fragment: str) -> float:
            if fragment in generic:
                return 0.0
            return math.log((len(entries) + 1) / len(holders[fragment])) / log_total

        self._fragments = {fragment: (tuple(sorted(ids)), specificity(fragment)) for fragment, ids in holders.items()}
        # Keywords up to the fragment length are found by the fragment scan; longer ones by a plain search.
        keyword_holders: dict[str, list[tuple[int, float]]] = defaultdict(list)
        self._long_keywords: list[tuple[str, int, float]] = []
        for index, entry in enumerate(entries):
            for keyword in dict.fromkeys(map(_normalise, entry.keywords)):
                weight = specificity(keyword[:_MAX_GRAM])
                if len(keyword) <= _MAX_GRAM:
                    keyword_holders[keyword].append((index, weight))
                else:
                    self._long_keywords.append((keyword, index, weight))
        self._keywords = {keyword: tuple(found) for keyword, found in keyword_holders.items()}

    def rank(self, text: str, limit: int) -> list[tuple[int, float]]:
        """(entry index, score) of the best `limit` entries with any evidence, best first."""
        normal = _normalise(text[:_MAX_TEXT_CHARS])
        coverage, keywords = self._scan(normal)
        for keyword, index, weight in self._long_keywords:
            if keyword in normal:
                keywords[index][keyword] = weight
        evidence = {index: sum(cells) for index, cells in coverage.items()}
        for index, found in keywords.items():
            # A keyword inside a longer one that also matched ("充电桩" in "充电桩坏") adds nothing new.
            evidence[index] = evidence.get(index, 0.0) + _KEYWORD_WEIGHT * sum(
                len(keyword) * weight
                for keyword, weight in found.items()
                if not any(keyword != other and keyword in other for other in found)
            )
        scored = [(index, 1.0 - math.exp(-mass / _EVIDENCE_SCALE)) for index, mass in evidence.items()]
        ranked = sorted((item for item in scored if item[1] >= _MIN_SCORE), key=lambda item: (-item[1], item[0]))
        return ranked[:limit]

    def _scan(self, normal: str) -> tuple[dict[int, list[float]], defaultdict[int, dict[str, float]]]:
        """Per entry: each text character's weight (that of the most specific shared fragment covering it), and
        the keywords found in the text."""
        coverage: dict[int, list[float]] = {}
        keywords: defaultdict[int, dict[str, float]] = defaultdict(dict)
        for start in range(len(normal) - 1):
            # Every entry holding a fragment holds its prefixes, so the first miss ends the search, and per entry
            # the longest fragment from here is also its most specific.
            longest: dict[int, tuple[int, float]] = {}
            for end in range(start + 2, min(start + _MAX_GRAM, len(normal)) + 1):
                fragment = normal[start:end]
                found = self._fragments.get(fragment)
                if found is None:
                    break
                for index, weight in self._keywords.get(fragment, ()):
                    keywords[index][fragment] = weight
                holders, specificity = found
                if specificity == 0.0:
                    continue
                weight = specificity * (_BIGRAM_WEIGHT if end - start == 2 else 1.0)
                for index in holders:
                    longest[index] = (end, weight)
            for index, (end, weight) in longest.items():
                cells = coverage.setdefault(index, [0.0] * len(normal))
                for position in range(start, end):
                    if cells[position] < weight:
                        cells[position] = weight
        return coverage, keywords
