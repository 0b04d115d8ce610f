"""What a reader may see of the precedents behind a routing decision: workers the cases scrubbed, residents a count.

A precedent is another resident's complaint, often from another community. Residents read the suggested resolution
(scrubbed), the party and how many similar cases were resolved, never a precedent's text; the rationale they read is
rebuilt from the decision's fields, since the router's own summary quotes the closest precedent. Workers keep the
precedents, scrubbed again on the way out so that cases stored before the name scrubber leak nothing either.
"""

from __future__ import annotations

from typing import Any

from linli.parties import display_name
from linli.pii import scrub

# How the router's summary quoted the closest precedent: history notes written before this change still do.
PRECEDENT_QUOTE = "最相似的「"


def similar_resolved_count(stored: dict[str, Any]) -> int:
    """How many resolved precedents the decision (proto JSON form) drew on."""
    return len(stored.get("similar_cases", []))


def routing_for_reader(stored: dict[str, Any], *, sees_precedents: bool) -> dict[str, Any]:
    """The stored decision (proto JSON form) as one reader may read it: scrubbed, without precedents for residents."""
    shown = dict(stored)
    shown["suggested_resolution"] = scrub(stored.get("suggested_resolution", ""))
    rationale = dict(stored.get("rationale", {}))
    if sees_precedents:
        rationale["summary"] = scrub(rationale.get("summary", ""))
        shown["similar_cases"] = [_scrubbed_hit(hit) for hit in stored.get("similar_cases", [])]
    else:
        rationale["summary"] = resident_summary(stored)
        shown["similar_cases"] = []
    shown["rationale"] = rationale
    return shown


def resident_summary(stored: dict[str, Any]) -> str:
    """Why the ticket went where it did, in words a resident reads: the catalog entry, the count, the party."""
    parts = []
    entry = stored.get("rationale", {}).get("catalog_entry")
    if entry and entry.get("name"):
        parts.append(f"权责清单「{entry['name']}」由{display_name(entry.get('party', ''))}负责")
    count = similar_resolved_count(stored)
    if count:
        parts.append(f"参考了 {count} 件相似的已办结案例")
    evidence = ";".join(parts) + "。" if parts else ""
    party = stored.get("party", "")
    if stored.get("abstained", False) or not party:
        return f"{evidence}正在由工作人员人工分派。"
    return f"{evidence}由{display_name(party)}处理。"


def _scrubbed_hit(hit: dict[str, Any]) -> dict[str, Any]:
    case = dict(hit.get("case", {}))
    case["complaint"] = scrub(case.get("complaint", ""))
    case["resolution"] = scrub(case.get("resolution", ""))
    return {**hit, "case": case}


def history_note_for_reader(note: str, stored: dict[str, Any] | None, *, sees_precedents: bool) -> str:
    """A history note as one reader may read it: an old triage note quoting a precedent is scrubbed for workers,
    and for residents becomes the summary without quotes."""
    if PRECEDENT_QUOTE not in note:
        return note
    return scrub(note) if sees_precedents else resident_summary(stored or {})
