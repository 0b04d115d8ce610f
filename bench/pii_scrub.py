"""How well and how fast linli.pii finds personal data: per-type precision, recall and F1, false positives, texts/s.

Run `python -m bench.pii_scrub`. Two labelled sets:
- tests/data/pii_examples.jsonl: every type, scored by exact (type, value);
- tests/data/pii_names.jsonl: person names by character span in residents' complaints and workers' resolutions,
  with hard negatives (王府井, 周末, 万科物业...). Its "split" field says which half is which: the "test" half was
  written before the bare-name rules and never used to tune them; the "tune" half is what they were tuned on.
  A labelled name counts as found when name spans cover all its characters (what scrub masks); a found name span
  is correct when it overlaps a labelled name (王师傅 covers the labelled 王).
With `--gov` it also times the scrubber on the real citizen messages in ../shared/data/gov-messages-2020 (read at
run time, never copied) and counts what it finds there (`--show N` prints a sample to review).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from linli.pii import PiiType, find_pii, scrub

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "tests" / "data" / "pii_examples.jsonl"
NAME_EXAMPLES = ROOT / "tests" / "data" / "pii_names.jsonl"
SPLITS = ("test", "tune")
GOV_MESSAGES = ROOT.parent / "shared" / "data" / "gov-messages-2020"


@dataclass(frozen=True)
class Example:
    """One labelled text: the personal data it holds as (type, exact substring) pairs; none for a look-alike."""

    text: str
    pii: tuple[tuple[PiiType, str], ...]


@dataclass
class Tally:
    """Counts of one type: found and labelled (true positive), found only, labelled only."""

    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0

    @property
    def precision(self) -> float:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        labelled = self.true_positives + self.false_negatives
        return self.true_positives / labelled if labelled else 1.0

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0


@dataclass
class Evaluation:
    """Per-type and overall tallies over a labelled set, with the mistakes kept for reading."""

    by_type: dict[PiiType, Tally] = field(default_factory=lambda: {kind: Tally() for kind in PiiType})
    overall: Tally = field(default_factory=Tally)
    negative_lines: int = 0
    negative_false_positives: int = 0
    unmasked_values: int = 0  # labelled values of which some character survives scrubbing, whatever the type
    labelled_values: int = 0
    mistakes: list[str] = field(default_factory=list)


def load_examples(path: Path = EXAMPLES) -> list[Example]:
    """Reads the labelled JSONL; a value that is not in its text, or an unknown type, is an error in the set."""
    examples = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            row = json.loads(line)
            pii = tuple((PiiType(item["type"]), str(item["value"])) for item in row["pii"])
            for _, value in pii:
                if value not in row["text"]:
                    raise ValueError(f"{path}:{number}: value {value!r} is not in the text")
            examples.append(Example(text=row["text"], pii=pii))
    return examples


def evaluate(examples: Sequence[Example]) -> Evaluation:
    """Scores exact (type, value) matches; a span with the wrong type or boundaries counts as both FP and FN."""
    result = Evaluation()
    for example in examples:
        spans = find_pii(example.text)
        found = Counter((span.type, example.text[span.start : span.end]) for span in spans)
        labelled = Counter(example.pii)
        for kind in PiiType:
            tally = result.by_type[kind]
            hits = sum((min(n, labelled[key]) for key, n in found.items() if key[0] is kind), 0)
            tally.true_positives += hits
            tally.false_positives += sum(n for key, n in found.items() if key[0] is kind) - hits
            tally.false_negatives += sum(n for key, n in labelled.items() if key[0] is kind) - hits
        if found != labelled:
            result.mistakes.append(f"{example.text}\n    found {sorted(found)}\n    want  {sorted(labelled)}")
        if not example.pii:
            result.negative_lines += 1
            result.negative_false_positives += len(spans)
        covered = {i for span in spans for i in range(span.start, span.end)}
        for _, value in example.pii:
            result.labelled_values += 1
            start = example.text.index(value)
            if not all(i in covered for i in range(start, start + len(value))):
                result.unmasked_values += 1
    for tally in result.by_type.values():
        result.overall.true_positives += tally.true_positives
        result.overall.false_positives += tally.false_positives
        result.overall.false_negatives += tally.false_negatives
    return result


@dataclass(frozen=True)
class NameExample:
    """A complaint or resolution with its person names as [start, end) spans, and the half of the set it is in."""

    text: str
    names: tuple[tuple[int, int], ...]
    split: str
    source: str


@dataclass
class NameEvaluation:
    """Name tallies of one half, by source, with the other types found (the set labels only names) and mistakes."""

    names: Tally = field(default_factory=Tally)
    by_source: dict[str, Tally] = field(default_factory=dict)
    other_types_found: Counter[PiiType] = field(default_factory=Counter)
    negative_lines: int = 0
    negative_false_positives: int = 0
    mistakes: list[str] = field(default_factory=list)


def load_name_examples(path: Path = NAME_EXAMPLES) -> list[NameExample]:
    """Reads the name set; a span that does not hold its value, or an unknown split, is an error in the set."""
    examples = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            row = json.loads(line)
            if row["split"] not in SPLITS:
                raise ValueError(f"{path}:{number}: split {row['split']!r} is not one of {SPLITS}")
            for name in row["names"]:
                if row["text"][name["start"] : name["end"]] != name["value"]:
                    raise ValueError(f"{path}:{number}: span {name} does not hold its value")
            spans = tuple((name["start"], name["end"]) for name in row["names"])
            examples.append(NameExample(row["text"], spans, row["split"], row["source"]))
    return examples


def _score_names(example: NameExample, found: list[tuple[int, int]], tally: Tally) -> bool:
    """Adds one text to a tally; True when the text was scored without a mistake."""
    covered = {i for start, end in found for i in range(start, end)}
    missed = [span for span in example.names if not all(i in covered for i in range(*span))]
    wrong = [span for span in found if not any(span[0] < end and start < span[1] for start, end in example.names)]
    tally.false_negatives += len(missed)
    tally.true_positives += len(example.names) - len(missed)
    tally.false_positives += len(wrong)
    return not missed and not wrong


def evaluate_names(examples: Sequence[NameExample]) -> NameEvaluation:
    """Scores person names by coverage (recall) and overlap (precision) over the given examples."""
    result = NameEvaluation()
    for example in examples:
        spans = find_pii(example.text)
        found = [(span.start, span.end) for span in spans if span.type is PiiType.NAME]
        result.other_types_found.update(span.type for span in spans if span.type is not PiiType.NAME)
        source_tally = result.by_source.setdefault(example.source, Tally())
        _score_names(example, found, source_tally)
        if not _score_names(example, found, result.names):
            result.mistakes.append(
                f"[{example.split}] {example.text}\n    found {[example.text[a:b] for a, b in found]}"
                f"\n    want  {[example.text[a:b] for a, b in example.names]}"
            )
        if not example.names:
            result.negative_lines += 1
            result.negative_false_positives += len(found)
    return result


def texts_per_second(texts: Sequence[str], *, min_seconds: float) -> float:
    """Scrubs the texts over and over for at least `min_seconds` and returns the rate."""
    done = 0
    started = time.perf_counter()
    elapsed = 0.0
    while elapsed < min_seconds:
        for text in texts:
            scrub(text)
        done += len(texts)
        elapsed = time.perf_counter() - started
    return done / elapsed


def read_gov_messages(folder: Path) -> list[str]:
    """The message texts of the gov-messages-2020 train and dev splits."""
    texts: list[str] = []
    for name in ("train.jsonl", "dev.jsonl"):
        with (folder / name).open(encoding="utf-8") as lines:
            texts.extend(json.loads(line)["text"] for line in lines if line.strip())
    return texts


def report_labelled(path: Path, *, min_seconds: float, show_mistakes: bool) -> None:
    """Prints the scores on the labelled set and the scrubbing rate on its texts."""
    examples = load_examples(path)
    result = evaluate(examples)
    print(f"labelled set: {path} ({len(examples)} texts, {result.negative_lines} without personal data)")
    print(f"{'type':<10} {'labelled':>8} {'found':>6} {'precision':>9} {'recall':>7} {'F1':>6}")
    for kind, tally in [*result.by_type.items(), ("overall", result.overall)]:
        labelled = tally.true_positives + tally.false_negatives
        found = tally.true_positives + tally.false_positives
        print(f"{kind:<10} {labelled:>8} {found:>6} {tally.precision:>9.3f} {tally.recall:>7.3f} {tally.f1:>6.3f}")
    print(f"false positives on the {result.negative_lines} look-alike lines: {result.negative_false_positives}")
    masked = result.labelled_values - result.unmasked_values
    print(f"labelled values fully masked by scrub (any type): {masked}/{result.labelled_values}")
    rate = texts_per_second([e.text for e in examples], min_seconds=min_seconds)
    mean_chars = sum(len(e.text) for e in examples) / len(examples)
    print(f"throughput: {rate:,.0f} texts/s, {1e6 / rate:,.0f} µs per text (mean {mean_chars:.0f} chars)")
    if show_mistakes:
        for mistake in result.mistakes:
            print(f"  MISS {mistake}")


def _tally_line(label: str, tally: Tally) -> str:
    labelled = tally.true_positives + tally.false_negatives
    found = tally.true_positives + tally.false_positives
    return f"{label:<22} {labelled:>8} {found:>6} {tally.precision:>9.3f} {tally.recall:>7.3f} {tally.f1:>6.3f}"


def report_names(path: Path, *, show_mistakes: bool) -> None:
    """Prints person-name scores on each half of the name set, by source, and the per-text scrubbing time."""
    examples = load_name_examples(path)
    print(f"\nname set: {path} ({len(examples)} texts)")
    print("split 'test' was written before the bare-name rules and never tuned on; 'tune' is what they were tuned on")
    print(f"{'half / class':<22} {'labelled':>8} {'found':>6} {'precision':>9} {'recall':>7} {'F1':>6}")
    for split in SPLITS:
        half = [example for example in examples if example.split == split]
        result = evaluate_names(half)
        print(_tally_line(f"{split}: name", result.names))
        for source, tally in sorted(result.by_source.items()):
            print(_tally_line(f"{split}:   in {source}s", tally))
        others = ", ".join(f"{kind}={n}" for kind, n in sorted(result.other_types_found.items())) or "none"
        print(
            f"{split}: {len(half)} texts, {result.negative_lines} hard negatives with "
            f"{result.negative_false_positives} name found in them; other types found (none labelled): {others}"
        )
        if show_mistakes and split == "tune":  # reading the test half's mistakes would be tuning on it
            for mistake in result.mistakes:
                print(f"  MISS {mistake}")
    texts = [example.text for example in examples]
    started = time.perf_counter()
    for text in texts:
        scrub(text)
    print(f"scrub per text on the name set: {(time.perf_counter() - started) / len(texts) * 1e6:,.0f} µs")


def report_gov(folder: Path, *, min_seconds: float, show: int) -> None:
    """Prints the scrubbing rate on real messages, what was found there by type, and optionally a sample."""
    texts = read_gov_messages(folder)
    rate = texts_per_second(texts, min_seconds=min_seconds)
    found: Counter[PiiType] = Counter()
    samples: list[str] = []
    for text in texts:
        for span in find_pii(text):
            found[span.type] += 1
            context = text[max(0, span.start - 8) : span.end + 8].replace("\n", " ")
            samples.append(f"{span.type:<10} {text[span.start : span.end]!r:<28} …{context}…")
    print(f"gov-messages-2020: {len(texts)} texts, mean {sum(map(len, texts)) / len(texts):.0f} chars")
    print(f"throughput: {rate:,.0f} texts/s")
    print("spans found: " + ", ".join(f"{kind}={found[kind]}" for kind in PiiType))
    for line in random.Random(7).sample(samples, min(show, len(samples))):
        print(f"  {line}")


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the benchmark; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m bench.pii_scrub", description=__doc__)
    parser.add_argument("--data", type=Path, default=EXAMPLES, help="labelled JSONL (default: %(default)s)")
    parser.add_argument("--names", type=Path, default=NAME_EXAMPLES, help="name set JSONL (default: %(default)s)")
    parser.add_argument("--seconds", type=float, default=2.0, help="minimum timing per throughput figure")
    parser.add_argument(
        "--mistakes", action="store_true", help="print every text where found != labelled (name set: tune half only)"
    )
    parser.add_argument("--gov", type=Path, nargs="?", const=GOV_MESSAGES, help="also run on gov-messages-2020")
    parser.add_argument("--show", type=int, default=0, help="with --gov, print this many random detections")
    args = parser.parse_args(argv)
    if args.seconds <= 0:
        parser.error("--seconds must be positive")
    started = time.perf_counter()
    scrub("张伟昨天又把车停在消防通道上")
    print(f"first scrub (loads jieba's dictionary once per process): {time.perf_counter() - started:.2f} s")
    report_labelled(args.data, min_seconds=args.seconds, show_mistakes=args.mistakes)
    report_names(args.names, show_mistakes=args.mistakes)
    if args.gov is not None:
        if not args.gov.is_dir():
            parser.error(f"--gov: {args.gov} is not a folder")
        report_gov(args.gov, min_seconds=args.seconds, show=args.show)
    return 0


if __name__ == "__main__":
    sys.exit(main())
