"""一单多事: how often Route lists other issues for a one-problem message, and how often it finds a second problem.

Run `python -m bench.multi_issue [--split train|heldout] [--pairs 1000]`. Prints figures, asserts nothing:

- false flags: the share of corpus cases (one problem each, with a few genuinely multi-issue messages among them:
  a sample of flagged ones is printed to judge) whose decision lists any other issue;
- recall on synthetic two-problem messages: two cases of different catalog entries (and, separately, of different
  parties) joined as "<a>另外,<b>" and "<a>。还有<b>", and as plain sentences "<a>。<b>" (no connective, the
  harder case); found when b's entry is among the other issues, or is the decision's entry while a's is among them;
- the detection's own time per Route (mean microseconds).

The decision's entry is chosen as Route chooses it (services/routing/entry_choice.py: keyword matcher plus the entry
model over the head vector, int8 embeddings), given the true party: a's party for a joined message, whose first
problem is its subject. The detection rules were chosen on the training split; the held-out split is for reporting.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.routing_entries import entry_model
from linli.catalog import Catalog, CatalogEntry, load_catalog
from services.retrieval.cases import CaseRecord, read_corpus
from services.routing.entry_choice import choose_entry
from services.routing.other_issues import DEFAULT_RULES, DetectionRules, find_other_issues

CORPUS_DIR = Path(__file__).resolve().parent.parent / "services" / "retrieval" / "corpus"
SPLITS = {"train": CORPUS_DIR / "resolved_cases.jsonl", "heldout": CORPUS_DIR / "heldout_cases.jsonl"}
JOINERS = {"<a>另外,<b>": "{a}另外，{b}", "<a>。还有<b>": "{a}。还有{b}", "<a>。<b>": "{a}。{b}"}
EntryScorer = Callable[[Sequence[str]], list[dict[str, float]]]


@dataclass(frozen=True)
class Message:
    """A message as Route sees it, text and the decision's entry; for a joined one, the entry ids of a and b."""

    text: str
    main: CatalogEntry | None
    first: str = ""
    second: str = ""


def entry_scorer(catalog: Catalog) -> EntryScorer:
    """The entry model's scores per text, as Route computes them (the head vector, int8 embeddings)."""
    model, heads = entry_model(catalog)

    def score(texts: Sequence[str]) -> list[dict[str, float]]:
        rows = model.entry_scores(heads(list(texts)))
        return [dict(zip(model.entries, row.tolist(), strict=True)) for row in rows]

    return score


def decision_entries(
    texts: Sequence[str], parties: Sequence[str], catalog: Catalog, scorer: EntryScorer
) -> list[CatalogEntry | None]:
    """The decision's entry for each text given its party, chosen the way Route chooses it."""
    chosen = []
    for text, party, scores in zip(texts, parties, scorer(texts), strict=True):
        matches = catalog.match(text, limit=len(catalog.entries))
        choice = choose_entry(text, party, catalog, scores, matches=matches)
        chosen.append(choice.entry if choice is not None else None)
    return chosen


def pairs(
    cases: Sequence[CaseRecord], count: int, *, by_party: bool, seed: int = 7
) -> list[tuple[CaseRecord, CaseRecord]]:
    """`count` random ordered pairs of cases with different entries (or, `by_party`, different parties)."""
    rng = random.Random(seed)
    found: list[tuple[CaseRecord, CaseRecord]] = []
    while len(found) < count:
        a, b = rng.sample(list(cases), 2)
        if (a.party != b.party) if by_party else (a.category != b.category):
            found.append((a, b))
    return found


def joined(
    chosen: Sequence[tuple[CaseRecord, CaseRecord]], joiner: str, catalog: Catalog, scorer: EntryScorer
) -> list[Message]:
    """Each pair as one message, decided for a's party."""
    texts = [joiner.format(a=a.complaint, b=b.complaint) for a, b in chosen]
    mains = decision_entries(texts, [a.party for a, _ in chosen], catalog, scorer)
    return [
        Message(text, main, a.category, b.category) for text, main, (a, b) in zip(texts, mains, chosen, strict=True)
    ]


def flagged(batch: Sequence[Message], catalog: Catalog, rules: DetectionRules) -> list[Message]:
    """The messages for which any other issue is listed."""
    return [m for m in batch if find_other_issues(m.text, catalog, m.main, rules=rules)]


def recall(batch: Sequence[Message], catalog: Catalog, rules: DetectionRules) -> float:
    """The share of joined messages whose second problem is found (see the module docstring)."""
    hits = 0
    for message in batch:
        others = {finding.entry.id for finding in find_other_issues(message.text, catalog, message.main, rules=rules)}
        decided = message.main.id if message.main is not None else ""
        hits += message.second in others or (decided == message.second and message.first in others)
    return hits / len(batch)


def mean_microseconds(batch: Sequence[Message], catalog: Catalog, rules: DetectionRules) -> float:
    """Mean time of one detection over the messages, after a warm-up pass."""
    for message in batch[:50]:
        find_other_issues(message.text, catalog, message.main, rules=rules)
    times = []
    for message in batch:
        began = time.perf_counter()
        find_other_issues(message.text, catalog, message.main, rules=rules)
        times.append(time.perf_counter() - began)
    return statistics.fmean(times) * 1e6


def main(argv: Sequence[str] | None = None) -> int:
    """Prints the false-flag rate with a sample, the recall on joined pairs and the detection's time."""
    parser = argparse.ArgumentParser(prog="python -m bench.multi_issue", description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=sorted(SPLITS), default="heldout")
    parser.add_argument("--pairs", type=int, default=1000, help="joined messages per kind of pair and joiner")
    args = parser.parse_args(argv)
    catalog = load_catalog()
    scorer = entry_scorer(catalog)
    cases = read_corpus(SPLITS[args.split])
    rules = DEFAULT_RULES
    texts = [case.complaint for case in cases]
    singles = [
        Message(text, main)
        for text, main in zip(texts, decision_entries(texts, [c.party for c in cases], catalog, scorer), strict=True)
    ]
    flags = flagged(singles, catalog, rules)
    print(f"split {args.split}: {len(cases)} cases, rules {rules}")
    print(f"false flags (one-problem cases with other issues): {len(flags) / len(singles):.3f} ({len(flags)})")
    for message in random.Random(1).sample(flags, min(10, len(flags))):
        found = find_other_issues(message.text, catalog, message.main, rules=rules)
        decided = message.main.id if message.main is not None else "-"
        listed = "; ".join(f"{f.entry.id} {f.score:.2f} «{f.excerpt}»" for f in found)
        print(f"  [{decided}] {message.text[:70]}\n      -> {listed}")
    print(f"{'pairs':<18} {'joiner':<14} {'recall':>6}")
    joined_messages: list[Message] = []
    for kind, by_party in (("different entries", False), ("different parties", True)):
        chosen = pairs(cases, args.pairs, by_party=by_party)
        for name, joiner in JOINERS.items():
            batch = joined(chosen, joiner, catalog, scorer)
            joined_messages.extend(batch)
            print(f"{kind:<18} {name:<14} {recall(batch, catalog, rules):>6.3f}")
    print(
        f"detection time per Route: corpus messages {mean_microseconds(singles, catalog, rules):.0f} µs, "
        f"joined messages {mean_microseconds(joined_messages, catalog, rules):.0f} µs (mean)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
