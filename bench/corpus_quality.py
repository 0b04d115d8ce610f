"""Checks the packaged resolved-case corpus: coverage of the catalog, split sizes, and near-duplicates.

A corpus of near-copies teaches the router one phrasing per topic and flatters its held-out score, so this prints the
share of pairs above a cosine of 0.95, within the training split and across train and held-out (leakage).

    python -m bench.corpus_quality
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from linli.catalog import load_catalog
from linli.embedding import SentenceTransformerEmbedder
from services.retrieval.cases import read_corpus
from services.retrieval.settings import RetrievalSettings

CORPUS_DIR = Path(__file__).resolve().parent.parent / "services" / "retrieval" / "corpus"
NEAR_DUPLICATE = 0.95


def near_duplicate_pairs(vectors: np.ndarray, other: np.ndarray | None = None) -> int:
    """Pairs with cosine above NEAR_DUPLICATE: within `vectors`, or between `vectors` and `other`."""
    if other is None:
        similarity = vectors @ vectors.T
        return int(np.count_nonzero(np.triu(similarity > NEAR_DUPLICATE, k=1)))
    return int(np.count_nonzero(vectors @ other.T > NEAR_DUPLICATE))


def main(argv: list[str] | None = None) -> int:
    """Prints the corpus report; exit status 1 when an entry of the catalog has no case."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", type=Path, default=CORPUS_DIR / "resolved_cases.jsonl")
    parser.add_argument("--heldout", type=Path, default=CORPUS_DIR / "heldout_cases.jsonl")
    args = parser.parse_args(argv)

    train, heldout = read_corpus(args.train), read_corpus(args.heldout)
    catalog = load_catalog()
    every = train + heldout
    per_entry = Counter(case.category for case in every)
    uncovered = [entry.id for entry in catalog.entries if per_entry[entry.id] == 0]
    lengths = [len(case.complaint) for case in every]
    print(f"cases: {len(every)} ({len(train)} train, {len(heldout)} held out)")
    print("by party: " + ", ".join(f"{party} {n}" for party, n in Counter(c.party for c in every).most_common()))
    print(
        f"catalog entries covered: {len(catalog.entries) - len(uncovered)}/{len(catalog.entries)}; "
        f"cases per entry min {min(per_entry.values())}, median {statistics.median(per_entry.values()):.0f}"
    )
    print(
        f"complaint length (characters): min {min(lengths)}, median {statistics.median(lengths):.0f}, "
        f"p90 {sorted(lengths)[int(0.9 * len(lengths))]}, max {max(lengths)}"
    )
    print(f"communities: {len({c.community for c in every})}; questions: {sum('?' in c.complaint for c in every)}")

    embedder = SentenceTransformerEmbedder(RetrievalSettings().resolved_model_path())
    train_vectors = embedder.embed([case.complaint for case in train])
    heldout_vectors = embedder.embed([case.complaint for case in heldout])
    all_pairs = len(train) * (len(train) - 1) // 2
    within = near_duplicate_pairs(train_vectors)
    across = near_duplicate_pairs(heldout_vectors, train_vectors)
    print(
        f"near-duplicate pairs (cosine > {NEAR_DUPLICATE}) within train: {within} of {all_pairs} "
        f"({within / all_pairs:.4%})"
    )
    nearest = (heldout_vectors @ train_vectors.T).max(axis=1)
    print(
        f"held-out cases with a near-duplicate in train: {int((nearest > NEAR_DUPLICATE).sum())} of {len(heldout)} "
        f"({across} pairs); held-out nearest-train cosine median {float(np.median(nearest)):.3f}"
    )
    if uncovered:
        print("entries without cases: " + ", ".join(uncovered), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
