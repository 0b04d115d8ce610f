"""The router on real letters: the 2019 government replies' dev split, hand-labelled by two blind annotators.

Run `python -m bench.gov_replies_eval [--history H.jsonl]`. At run time it joins the dev texts
(../shared/data/gov-replies-2019/dev.jsonl, never copied into the repository) with the gold labels of
bench/data/gov_replies_dev_labels.jsonl (ids and labels only; `unclear` rows left out), writes the test file to a
temporary folder, and runs `linli eval routing` on it: the deployed router, and, with --history (a HISTORY.jsonl
of `linli history import` over train.jsonl), a router trained with that history; each on every scored row and on
the `compound` subset (letters that mention 小区/物业/业委会...). One JSON line per evaluation on stdout.
The gold sample holds 1 property_manager and no owners_committee row: its macro-F1 is mostly street_office's F1.
This sample is for the final measurement only; never tune on it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DEV = ROOT.parent.parent / "shared" / "data" / "gov-replies-2019" / "dev.jsonl"
GOLD = ROOT / "bench" / "data" / "gov_replies_dev_labels.jsonl"
UNSCORED = "unclear"
REPORTED = ("n", "accuracy", "macro_f1", "coverage", "selective_accuracy", "ece", "prior_shift")


def _say(line: str) -> None:
    sys.stderr.write(f"[bench] {line}\n")
    sys.stderr.flush()


def _jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def build_test_rows(dev: Path, gold: Path, *, compound_only: bool = False) -> list[dict[str, str]]:
    """{"title", "text", "label"} for every gold row with a scored label (and, if asked, a compound letter)."""
    texts = {row["id"]: row for row in _jsonl(dev)}
    rows = []
    for label in _jsonl(gold):
        if label["label"] == UNSCORED or (compound_only and not label["compound"]):
            continue
        if label["id"] not in texts:
            raise SystemExit(f"{gold}: id {label['id']} is not in {dev}")
        letter = texts[label["id"]]
        rows.append({"title": letter.get("title") or "", "text": letter["text"], "label": label["label"]})
    return rows


def run_eval(test: Path, extra: Sequence[str]) -> dict[str, Any]:
    """`linli eval routing --test TEST EXTRA...`, its report's headline figures."""
    command = [sys.executable, "-m", "services.cli", "eval", "routing", "--test", str(test), *extra]
    _say(" ".join(command[2:]))
    # Our own interpreter and CLI module, with paths this script built.
    done = subprocess.run(command, check=True, capture_output=True, text=True, env=os.environ.copy(), cwd=ROOT)  # noqa: S603
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return {key: report[key] for key in REPORTED if key in report}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dev", type=Path, default=DEFAULT_DEV)
    parser.add_argument("--gold", type=Path, default=GOLD)
    parser.add_argument("--history", type=Path, help="HISTORY.jsonl of `linli history import` over train.jsonl")
    parser.add_argument("--prior-shift", action="store_true", help="also run each with --prior-shift (test texts)")
    args = parser.parse_args(argv)
    routers: list[tuple[str, list[str]]] = [("deployed", [])]
    if args.history is not None:
        routers.append(("history", ["--history", str(args.history)]))
    if args.prior_shift:
        routers += [(f"{name}+prior_shift", [*extra, "--prior-shift"]) for name, extra in routers]
    with tempfile.TemporaryDirectory(prefix="gov-replies-") as folder:
        for subset in ("all", "compound"):
            test = Path(folder) / f"{subset}.jsonl"
            rows = build_test_rows(args.dev, args.gold, compound_only=subset == "compound")
            test.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
            for name, extra in routers:
                figures = run_eval(test, extra)
                print(json.dumps({"router": name, "subset": subset, **figures}, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
