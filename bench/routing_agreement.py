"""How far the complaint text alone decides the party: a second, blind annotation of the held-out split.

Run `python -m bench.routing_agreement`. An independent annotator (a separate AI agent session, not the corpus's
author, not a person) read only each held-out complaint (no resolution, no category, no label) with the three parties'
descriptions, chose a party and said how sure a dispatcher could be: "sure", "likely" or "ambiguous"
(bench/data/heldout_second_annotation.jsonl). This prints how often that choice
agrees with the split's labels (which record who actually resolved each case), Cohen's kappa, and the accuracy an
annotator would have if it answered only where it is sure (then also where it is likely): the ceiling a router that
reads the same text can be held to. With `--router` it also trains the router on the training split exactly as
`linli eval routing --train` does and prints its accuracy on the same groups of items, and its selective accuracy
at the annotator's coverages.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from services.retrieval.cases import read_corpus

ROOT = Path(__file__).resolve().parent.parent
CORPUS_DIR = ROOT / "services" / "retrieval" / "corpus"
ANNOTATION = Path(__file__).resolve().parent / "data" / "heldout_second_annotation.jsonl"
CONFIDENCES = ("sure", "likely", "ambiguous")


def read_annotation(path: Path) -> dict[str, tuple[str, str]]:
    """{case id: (party, confidence)}; a line without the three fields is an error naming the line."""
    annotation = {}
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            row = json.loads(line)
            if row.get("confidence") not in CONFIDENCES or not row.get("party") or not row.get("id"):
                raise ValueError(f"{path}:{number}: expected id, party and confidence in {CONFIDENCES}")
            annotation[row["id"]] = (row["party"], row["confidence"])
    return annotation


def cohen_kappa(first: Sequence[str], second: Sequence[str]) -> float:
    """Agreement beyond what two annotators with these label frequencies would reach by chance."""
    n = len(first)
    observed = sum(a == b for a, b in zip(first, second, strict=True)) / n
    counts_a, counts_b = Counter(first), Counter(second)
    expected = sum(counts_a[label] * counts_b[label] for label in counts_a) / (n * n)
    return (observed - expected) / (1 - expected)


def selective_at_coverage(confidences: np.ndarray, hits: np.ndarray, coverage: float) -> float:
    """Accuracy on the most confident `coverage` share of items."""
    keep = max(1, round(coverage * len(hits)))
    return float(hits[np.argsort(-confidences, kind="stable")[:keep]].mean())


def router_predictions(heldout_texts: list[str], train_path: Path) -> tuple[list[str], np.ndarray]:
    """The router's top party and confidence for each held-out text, trained on `train_path`."""
    from linli.catalog import load_catalog
    from services.retrieval.settings import RetrievalSettings
    from services.routing.learning.commands import local_encoder
    from services.routing.learning.data import read_labelled
    from services.routing.offline import train_offline_router

    router, _ = train_offline_router(
        read_labelled(train_path), encoder=local_encoder(RetrievalSettings().embedder_config()), catalog=load_catalog()
    )
    predictions = router.predict(heldout_texts)
    return [p.label for p in predictions], np.array([p.confidence for p in predictions])


def main(argv: Sequence[str] | None = None) -> int:
    """Prints the agreement report; 2 when the annotation does not cover the held-out split."""
    parser = argparse.ArgumentParser(prog="python -m bench.routing_agreement", description=__doc__.splitlines()[0])
    parser.add_argument("--heldout", type=Path, default=CORPUS_DIR / "heldout_cases.jsonl")
    parser.add_argument("--annotation", type=Path, default=ANNOTATION)
    parser.add_argument("--train", type=Path, default=CORPUS_DIR / "resolved_cases.jsonl")
    parser.add_argument("--router", action="store_true", help="also train the router and compare it")
    args = parser.parse_args(argv)

    cases = read_corpus(args.heldout)
    annotation = read_annotation(args.annotation)
    missing = [case.id for case in cases if case.id not in annotation]
    if missing:
        sys.stderr.write(f"the annotation has no line for {len(missing)} held-out cases, e.g. {missing[0]}\n")
        return 2
    truth = [case.party for case in cases]
    second = [annotation[case.id][0] for case in cases]
    sureness = np.array([annotation[case.id][1] for case in cases])
    agrees = np.array([a == b for a, b in zip(truth, second, strict=True)])
    print(f"held-out cases: {len(cases)}; second annotator agrees with the labels on {agrees.mean():.3f}")
    print(f"Cohen's kappa: {cohen_kappa(truth, second):.3f}")

    routed: np.ndarray | None = None
    confidences = np.zeros(len(cases))
    if args.router:
        labels, confidences = router_predictions([case.complaint for case in cases], args.train)
        routed = np.array([a == b for a, b in zip(truth, labels, strict=True)])
        print(f"router accuracy on all: {routed.mean():.3f}")
    print("annotator's sureness   items  share  annotator acc" + ("  router acc" if routed is not None else ""))
    for level in CONFIDENCES:
        members = sureness == level
        line = f"{level:<22} {members.sum():>5}  {members.mean():.3f}  {agrees[members].mean():.3f}"
        print(line + (f"         {routed[members].mean():.3f}" if routed is not None else ""))
    print("if the annotator answered only where it is ...")
    for answered in (("sure",), ("sure", "likely")):
        covered = np.isin(sureness, answered)
        line = f"  {' or '.join(answered)}: coverage {covered.mean():.3f}, accuracy {agrees[covered].mean():.3f}"
        if routed is not None:
            line += f"; the router at that coverage: {selective_at_coverage(confidences, routed, covered.mean()):.3f}"
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
