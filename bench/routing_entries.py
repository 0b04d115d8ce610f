"""Which catalog entry a routed complaint rests on: keyword matcher, entry model, and both (the router's choice).

Run `python -m bench.routing_entries`. The entry sets a ticket's SLA, starting escalation level, co-parties and
category (hot topics group by it). For every case of the packaged corpus, given its true party, this prints how often
each way of choosing picks the case's own catalog entry (no entry shown counts as wrong) and how often it shows one.
Neither reader has seen a case: the matcher and the entry model know only the catalog's names and phrasings, so the
training split is as honest a test as the held-out one.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from linli.catalog import Catalog, CatalogEntry, load_catalog
from services.retrieval.cases import read_corpus
from services.routing.entry_choice import choose_entry
from services.routing.learning.classifier import EntryModel, ModelParameters
from services.routing.learning.features import FeatureConfig
from services.routing.signals import catalog_examples

CORPUS_DIR = Path(__file__).resolve().parent.parent / "services" / "retrieval" / "corpus"
Chooser = Callable[[str, str, dict[str, float]], CatalogEntry | None]


def entry_model(catalog: Catalog) -> tuple[EntryModel, Callable[[list[str]], object]]:
    """The entry model as training fits it (the catalog's phrasings, int8 embeddings) and the encoder it reads."""
    from services.retrieval.settings import RetrievalSettings
    from services.routing.learning.commands import local_encoder

    encoder = local_encoder(RetrievalSettings().embedder_config())
    examples = catalog_examples(catalog)
    head = FeatureConfig().head_chars
    vectors = encoder([example.text[:head] for example in examples])
    model = EntryModel(sorted(catalog.parties), ModelParameters().entry_c).fit(vectors, examples)
    return model, lambda texts: encoder([text[:head] for text in texts])


def choosers(catalog: Catalog) -> dict[str, Chooser]:
    """Each way of choosing an entry of a party for a text, given the entry model's scores."""

    def model_alone(text: str, party: str, scores: dict[str, float]) -> CatalogEntry | None:
        mine = [entry for entry in catalog.entries if entry.party == party]
        return max(mine, key=lambda entry: scores.get(entry.id, -math.inf), default=None)

    def keywords(text: str, party: str, scores: dict[str, float]) -> CatalogEntry | None:
        choice = choose_entry(text, party, catalog)
        return choice.entry if choice else None

    def both(text: str, party: str, scores: dict[str, float]) -> CatalogEntry | None:
        choice = choose_entry(text, party, catalog, scores)
        return choice.entry if choice else None

    return {"keywords alone": keywords, "entry model alone": model_alone, "both (the router)": both}


def main(argv: Sequence[str] | None = None) -> int:
    """Prints entry accuracy and the share of decisions with an entry, per split and chooser."""
    parser = argparse.ArgumentParser(prog="python -m bench.routing_entries", description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=Path, default=CORPUS_DIR / "resolved_cases.jsonl")
    parser.add_argument("--heldout", type=Path, default=CORPUS_DIR / "heldout_cases.jsonl")
    args = parser.parse_args(argv)
    catalog = load_catalog()
    model, heads = entry_model(catalog)
    ways = choosers(catalog)
    print(f"{'split':<10} {'cases':>5}  {'chooser':<20} {'right':>6}  {'shown':>6}")
    for name, path in (("train", args.train), ("held-out", args.heldout)):
        cases = read_corpus(path)
        if not cases:
            sys.stderr.write(f"no cases in {path}\n")
            return 2
        rows = model.entry_scores(heads([case.complaint for case in cases]))
        scores = [dict(zip(model.entries, row.tolist(), strict=True)) for row in rows]
        for way, choose in ways.items():
            chosen = [choose(case.complaint, case.party, s) for case, s in zip(cases, scores, strict=True)]
            pairs = zip(chosen, cases, strict=True)
            right = sum(entry is not None and entry.id == case.category for entry, case in pairs)
            shown = sum(entry is not None for entry in chosen)
            print(f"{name:<10} {len(cases):>5}  {way:<20} {right / len(cases):>6.3f}  {shown / len(cases):>6.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
