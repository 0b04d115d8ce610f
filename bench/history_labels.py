"""Who acted, inferred from real official replies: `linli history import` on the 2019 message-board history.

Run `python -m bench.history_labels`. It imports train.jsonl of ../shared/data/gov-replies-2019 (read at run time,
never copied into the repository; nothing trained on it is written) exactly as `linli history import` does and
prints the counts (read, labelled, left unlabelled, dropped), the label distribution, the rules' sure rows, the
self-trained model's out-of-fold agreement with them and its ECE, and the seconds taken.

With `--gold FILE` (JSONL lines {"id", "label"} or {"text", "label"} of a hand-labelled sample) it also prints
how often the inferred label agrees with the gold one: over the gold rows the import labelled (with their share),
and per gold label. The last stdout line is the whole report as one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from services.routing.history.importing import import_history
from services.routing.history.settings import HistorySettings

DATA_FOLDER = Path("shared") / "data" / "gov-replies-2019"


def default_data() -> Path:
    """The shared data folder beside the nearest ancestor of this file that has one (main or a worktree)."""
    for parent in Path(__file__).resolve().parents:
        if (parent / DATA_FOLDER).is_dir():
            return parent / DATA_FOLDER
    return Path("..") / DATA_FOLDER


def _say(line: str) -> None:
    sys.stderr.write(f"[bench] {line}\n")
    sys.stderr.flush()


def _read_gold(path: Path) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [row for row in rows if isinstance(row, dict) and row.get("label")]


def gold_agreement(lines: list[dict[str, Any]], gold: list[dict[str, Any]]) -> dict[str, Any]:
    """Agreement of the inferred labels with gold rows, matched by id, else by message text."""
    by_id = {str(line["id"]): line for line in lines}
    by_text = {line["text"]: line for line in lines}
    matched, labelled, agreed = 0, 0, 0
    per_label: dict[str, Counter[str]] = {}
    for row in gold:
        line = by_id.get(str(row.get("id"))) or by_text.get(str(row.get("text")))
        if line is None:
            continue
        matched += 1
        inferred = line["label"] or "(unlabelled)"
        per_label.setdefault(str(row["label"]), Counter())[inferred] += 1
        if line["label"]:
            labelled += 1
            agreed += line["label"] == row["label"]
    return {
        "gold_rows": len(gold),
        "matched": matched,
        "labelled_share": labelled / matched if matched else None,
        "agreement_where_labelled": agreed / labelled if labelled else None,
        "agreement_overall": agreed / matched if matched else None,
        "inferred_by_gold_label": {label: dict(counts) for label, counts in per_label.items()},
    }


def main(argv: list[str] | None = None) -> int:
    """Imports the split and prints the report (stderr: progress; stdout: summary and JSON)."""
    parser = argparse.ArgumentParser(prog="python -m bench.history_labels", description=__doc__)
    parser.add_argument("--data", type=Path, default=default_data(), help="folder of the gov-replies-2019 splits")
    parser.add_argument("--split", default="train", help="train or dev (default train)")
    parser.add_argument("--min-confidence", type=float, default=HistorySettings().min_confidence)
    parser.add_argument("--gold", type=Path, help="JSONL of hand-labelled rows {id or text, label} to compare with")
    args = parser.parse_args(argv)
    lines, summary = import_history(
        [args.data / f"{args.split}.jsonl"], min_confidence=args.min_confidence, progress=_say
    )
    report: dict[str, Any] = {"split": args.split, "min_confidence": args.min_confidence, **summary.to_json()}
    confidences = sorted(line["label_confidence"] for line in lines)
    report["confidence_quartiles"] = [round(confidences[len(confidences) * q // 4], 3) for q in (1, 2, 3)]
    if args.gold is not None:
        report["gold"] = gold_agreement(lines, _read_gold(args.gold))
    sys.stdout.write(
        f"read {report['read']}  labelled {report['labelled']}  unlabelled {report['unlabelled']}  "
        f"dropped {report['dropped']}  in {report['seconds']} s\nlabels {report['labels']}\n"
    )
    sys.stdout.write(json.dumps(report, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
