"""Replaying a deployment's history in time order: does a router that learns from its own resolutions keep up?

Run `python -m bench.history_replay [--period quarter|month] [--embeddings]`. It imports the 2019 government
replies' train split (../shared/data/gov-replies-2019/train.jsonl, read at run time, never copied) with
`linli history import`'s importer, then walks the periods from --start on: for each, it trains on the packaged
resolved cases plus every history message resolved (reply_time) before the period starts, routes the messages
written in the period, and scores them against their imported labels; then their resolutions join the training
data. Next to it, a router frozen at the first period routes every period unchanged. One JSON line per period
(n, accuracy, macro_f1, coverage, selective_accuracy, ece of both), then a line of totals.

By default the routers use TF-IDF blocks and the catalog signal only (no embeddings, so no precedent vote and
no entry model): on 2 shared cores, embedding a few thousand long letters for every period would take longer
than the ~10 minutes this benchmark is meant to take. --embeddings adds them (much slower).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from linli.catalog import Catalog, load_catalog
from linli.parties import DEFAULT_PARTIES
from services.routing.learning import DEFAULT_PRECEDENTS
from services.routing.learning.data import LabelledText, join_title, read_labelled
from services.routing.learning.evaluation import evaluate
from services.routing.learning.features import Encoder, FeatureConfig
from services.routing.learning.training import TrainingConfig, train
from services.routing.offline import OfflineRouter
from services.routing.signals import RoutingTrainingSignals, catalog_examples

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TRAIN = ROOT.parent.parent / "shared" / "data" / "gov-replies-2019" / "train.jsonl"
HEADLINE = ("n", "accuracy", "macro_f1", "coverage", "selective_accuracy", "ece")


def _say(line: str) -> None:
    sys.stderr.write(f"[replay] {line}\n")
    sys.stderr.flush()


def period_of(timestamp: str, period: str) -> str:
    """ "2019-04" for a month, "2019Q2" for a quarter, of an ISO-like "2019-04-24 16:03:40"."""
    year, month = timestamp[:4], int(timestamp[5:7])
    return f"{year}-{month:02d}" if period == "month" else f"{year}Q{(month - 1) // 3 + 1}"


def period_start(name: str) -> str:
    """The first timestamp of a period named by `period_of`, comparable with the history's strings."""
    if "Q" in name:
        year, quarter = name.split("Q")
        return f"{year}-{(int(quarter) - 1) * 3 + 1:02d}-01"
    return f"{name}-01"


def labelled_history(path: Path | None, source: Path) -> list[dict[str, Any]]:
    """The labelled, timed lines of a HISTORY.jsonl (`path`), or of importing `source` now."""
    from services.routing.history.importing import import_history, read_imported
    from services.routing.history.settings import HistorySettings

    if path is not None:
        lines = read_imported(path)
    else:
        lines, summary = import_history([source], min_confidence=HistorySettings().min_confidence, progress=_say)
        _say(f"imported {len(lines)} messages, {summary.labelled} labelled")
    return [line for line in lines if line.get("label") and line.get("time") and line.get("reply_time")]


def _item(line: dict[str, Any]) -> LabelledText:
    return LabelledText(join_title(line.get("title"), line["text"].strip()), str(line["label"]))


def train_router(
    base: Sequence[LabelledText], history: Sequence[LabelledText], catalog: Catalog, encoder: Encoder | None
) -> OfflineRouter:
    """What `linli train routing --history` trains (calibrated on `base` alone), as an offline router."""
    items = [*base, *history]
    model = train(
        items,
        config=TrainingConfig(features=FeatureConfig(embed=encoder is not None)),
        encoder=encoder,
        allowed_labels=list(DEFAULT_PARTIES),
        signals=RoutingTrainingSignals(catalog),
        entry_examples=catalog_examples(catalog),
        tune_on=[True] * len(base) + [False] * len(history),
    )
    return OfflineRouter(
        model.classifier,
        threshold=model.threshold,
        encoder=encoder,
        catalog=catalog,
        precedent_texts=[item.text for item in items],
        precedent_labels=[item.label for item in items],
    )


def _headline(report: dict[str, Any]) -> dict[str, Any]:
    return {key: report[key] for key in HEADLINE}


def replay(
    lines: Sequence[dict[str, Any]], *, period: str, start: str, catalog: Catalog, encoder: Encoder | None
) -> list[dict[str, Any]]:
    """One row per period from `start`: the learning and the frozen router's figures on that period."""
    base = read_labelled(DEFAULT_PRECEDENTS)
    periods = sorted({period_of(line["time"], period) for line in lines if period_of(line["time"], period) >= start})
    frozen: OfflineRouter | None = None
    rows = []
    for name in periods:
        began = time.perf_counter()
        cutoff = period_start(name)
        known = [_item(line) for line in lines if line["reply_time"] < cutoff]
        current = [_item(line) for line in lines if period_of(line["time"], period) == name]
        learning = train_router(base, known, catalog, encoder)
        frozen = frozen or learning
        texts, truth = [item.text for item in current], [item.label for item in current]
        row = {
            "period": name,
            "trained_on_history": len(known),
            "learning": _headline(evaluate(learning, texts, truth)),
            "frozen": _headline(evaluate(frozen, texts, truth)),
            "seconds": round(time.perf_counter() - began, 1),
        }
        print(json.dumps(row, ensure_ascii=False), flush=True)
        rows.append(row)
    return rows


def totals(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Item-weighted means of accuracy and coverage over the periods, for both routers."""
    count = sum(row["learning"]["n"] for row in rows)
    result: dict[str, Any] = {"periods": len(rows), "n": count}
    for router in ("learning", "frozen"):
        for key in ("accuracy", "macro_f1", "coverage"):
            weighted = sum(row[router][key] * row[router]["n"] for row in rows)
            result[f"{router}_{key}"] = round(weighted / count, 4) if count else None
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, default=DEFAULT_TRAIN, help="raw message export to import")
    parser.add_argument("--history", type=Path, help="an already imported HISTORY.jsonl instead of --source")
    parser.add_argument("--period", choices=("quarter", "month"), default="quarter")
    parser.add_argument("--start", default="2018Q1", help='first period replayed, e.g. "2018Q1" or "2018-01"')
    parser.add_argument("--embeddings", action="store_true", help="embedding features and the vote (slow)")
    args = parser.parse_args(argv)
    encoder: Encoder | None = None
    if args.embeddings:
        from services.retrieval.settings import RetrievalSettings
        from services.routing.learning.commands import local_encoder

        encoder = local_encoder(RetrievalSettings().embedder_config())
    started = time.perf_counter()
    rows = replay(
        labelled_history(args.history, args.source),
        period=args.period,
        start=args.start,
        catalog=load_catalog(),
        encoder=encoder,
    )
    summary = {"totals": totals(rows), "seconds": round(time.perf_counter() - started, 1)}
    print(json.dumps(summary, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
