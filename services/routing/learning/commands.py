"""`linli train routing` and `linli eval routing`: argparse only at import, so `linli` stays fast to start."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from linli.errors import InvalidArgument, LinliError
from linli.parties import DEFAULT_PARTIES
from services.routing.learning import DEFAULT_MODEL_DIR, DEFAULT_PRECEDENTS

if TYPE_CHECKING:
    from linli.catalog import Catalog
    from linli.embedding.config import EmbedderConfig
    from services.routing.learning.classifier import StackedClassifier
    from services.routing.learning.data import LabelledText
    from services.routing.learning.features import Encoder
    from services.routing.learning.prior_shift import PriorShift
    from services.routing.learning.training import TrainedModel
    from services.routing.offline import OfflineRouter

LEARNING_COMMANDS = ("train", "eval")
PACKAGED = "services/retrieval/corpus/resolved_cases.jsonl"
EMBEDDING_BACKENDS = ("onnx-int8", "torch")
# Training embeds the head and tail of every text: the int8 fast path takes a fraction of torch's time for it.
TRAINING_BACKEND = "onnx-int8"

EVAL_DESCRIPTION = f"""\
Evaluates a router on --test (JSONL: "text", "label", optional "title", prepended to the text; or a HISTORY.jsonl
of `linli history import`, whose unlabelled messages are skipped).
With --train, first trains a fresh classifier on that file's labels (not saved); with --history, on the deployed
training data (the packaged resolved cases, catalog and default parties, or --train) plus the history's labelled
messages, which also join the precedents of the vote. Without either, evaluates the
deployed router: the model directory --model (default {DEFAULT_MODEL_DIR}, relative to the working directory).
If the default directory holds no model yet, the one the routing service trains at its first start is trained
first (on the packaged resolved cases, catalog signals included) and saved there, as the service would.

Progress goes to stderr. The last line of stdout is one JSON object:
  n                   items in --test
  accuracy, macro_f1  over all items, using the top label (an abstention still counts its top label);
                      macro_f1 averages the F1 of every label seen in the truth or the predictions
  coverage            share of items not abstained on
  selective_accuracy  accuracy on the items not abstained on (null when every item was abstained on)
  ece                 expected calibration error of the top-label probability, 15 equal-width bins
  per_class           {{label: {{precision, recall, f1, support}}}}
  confusion           {{true label: {{predicted label: count}}}} (zero counts left out)
  train_seconds       wall time of training with --train (or of that first model), else 0
  prior_shift         with --prior-shift (or a --model trained with one): the training and the EM-estimated label
                      priors the probabilities were moved to (Saerens et al., 2002), and the iterations it took
"""
# `--prior-shift` without a file, in eval: estimate the priors from the test texts themselves, unlabelled.
TEST_TEXTS = "-"


def _add_training_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--corrections", type=Path, help='JSONL of routing corrections {"text", "from", "to"}')
    parser.add_argument("--text-field", help='field holding the text (default: "text", or "complaint")')
    parser.add_argument("--label-field", help='field holding the label (default: "label", or "party")')
    parser.add_argument("--labels", help="comma-separated fixed label set: any other label in the data is an error")
    parser.add_argument(
        "--embeddings",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="use sentence embeddings of the retrieval model (LINLI_RETRIEVAL_* settings) as a feature block",
    )
    parser.add_argument(
        "--words", action=argparse.BooleanOptionalAction, default=True, help="use jieba word n-grams as a block"
    )
    parser.add_argument(
        "--signals",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="combine the precedent vote (needs embeddings) and, when the labels are its parties, the "
        "responsibility catalog (keyword match and an entry model of its phrasings) with the text, as Route does",
    )
    parser.add_argument("--catalog", type=Path, help="responsibility catalog YAML (default: the packaged one)")
    parser.add_argument(
        "--history",
        type=Path,
        help="HISTORY.jsonl of `linli history import`: its labelled messages join the training data (and the "
        f"precedents), on top of --data/--train or else the packaged resolved cases ({PACKAGED}), with the "
        "default parties as the fixed label set; the temperature and abstention threshold are fitted on the "
        "base data alone, the traffic the router serves",
    )
    _add_backend_option(parser)
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5)")
    parser.add_argument(
        "--target-precision",
        type=float,
        default=0.95,
        help="accuracy required where the router does not abstain; sets the threshold (default 0.95)",
    )


def _add_backend_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--embedding-backend",
        choices=EMBEDDING_BACKENDS,
        default=TRAINING_BACKEND,
        help=f"how the retrieval model embeds here (default {TRAINING_BACKEND}: several times faster than torch, "
        "cosine 0.997 to it, docs/adr/0003); a model trained with either backend serves with either",
    )


def add_learning_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Registers `train routing` and `eval routing` on the `linli` parser."""
    train = commands.add_parser("train", help="train a model").add_subparsers(dest="target", required=True)
    train_routing = train.add_parser(
        "routing",
        help="train the routing classifier on labelled texts and write a model directory",
        description='Trains on JSONL lines {"text", "label", "title"?} (or {"complaint", "party"}) and writes DIR '
        "atomically: manifest.json (labels, embedding model, features, threshold, cross-validated metrics, "
        "data checksum) and the fitted parts.",
    )
    train_routing.add_argument(
        "--data", type=Path, help=f"JSONL training file (required unless --history, which defaults it to {PACKAGED})"
    )
    train_routing.add_argument("--out", type=Path, default=DEFAULT_MODEL_DIR, help=f"default {DEFAULT_MODEL_DIR}")
    train_routing.add_argument(
        "--prior-shift",
        metavar="TEXTS.jsonl",
        help='JSONL of the deployment\'s recent unlabelled texts ({"text", "title"?}): the share of each label in them '
        "is estimated by EM (Saerens et al., 2002), saved in the manifest, and the served probabilities are "
        "moved to it (`linli routing info` shows it)",
    )
    _add_training_options(train_routing)

    evaluate = commands.add_parser("eval", help="evaluate a model").add_subparsers(dest="target", required=True)
    eval_routing = evaluate.add_parser(
        "routing",
        help="score a router on a labelled test file",
        description=EVAL_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    eval_routing.add_argument("--test", type=Path, required=True, help="JSONL test file")
    eval_routing.add_argument("--train", type=Path, help="train a fresh classifier on this JSONL file first")
    eval_routing.add_argument("--model", type=Path, help=f"model directory to evaluate (default {DEFAULT_MODEL_DIR})")
    eval_routing.add_argument(
        "--precedents",
        type=Path,
        help="resolved cases the deployed router votes over (default: the packaged corpus the index is seeded with)",
    )
    eval_routing.add_argument(
        "--prior-shift",
        metavar="TEXTS.jsonl",
        nargs="?",
        const=TEST_TEXTS,
        help="move the probabilities to the label priors EM estimates from these unlabelled texts; without a file, "
        "from --test's texts, unlabelled (transductive estimation)",
    )
    _add_training_options(eval_routing)


def _progress(line: str) -> None:
    sys.stderr.write(f"[routing] {line}\n")
    sys.stderr.flush()


def local_encoder(embedder: EmbedderConfig, backend: str = TRAINING_BACKEND) -> Encoder:
    """The retrieval service's embedding model, loaded in this process with `backend` (model folder, cache and
    sequence length as the caller read them from LINLI_RETRIEVAL_*)."""
    from linli.embedding import create_embedder
    from services.routing.learning.features import EmbedderEncoder

    return EmbedderEncoder(create_embedder(embedder.model_copy(update={"backend": backend})))


def _training_path(args: argparse.Namespace, path: Path | None) -> Path:
    """The base training file: the one given, else with --history the packaged resolved cases."""
    if path is not None:
        return path
    if args.history is not None:
        return DEFAULT_PRECEDENTS
    raise InvalidArgument.for_field("--data", "required unless --history is given")


def _read_training_data(args: argparse.Namespace, path: Path) -> tuple[list[LabelledText], int, list[bool] | None]:
    """The training items (corrections merged, then the history's labelled messages), how many corrections there
    were, and with --history which items are the deployment's own (calibration is fitted on those alone)."""
    from services.routing.learning.data import read_corrections, read_labelled, with_corrections

    items = read_labelled(path, text_field=args.text_field, label_field=args.label_field)
    corrections = read_corrections(args.corrections) if args.corrections is not None else []
    if corrections:
        items = with_corrections(items, corrections)
    if args.history is None:
        return items, len(corrections), None
    from services.routing.history.importing import labelled_items

    history = labelled_items(args.history)
    _progress(f"{len(history)} labelled messages from {args.history} join {len(items)} from {path}")
    return [*items, *history], len(corrections), [True] * len(items) + [False] * len(history)


def _catalog(args: argparse.Namespace) -> Catalog | None:
    from linli.catalog import load_catalog

    return load_catalog(args.catalog) if args.signals else None


def _train(args: argparse.Namespace, path: Path, embedder: EmbedderConfig) -> tuple[TrainedModel, Encoder | None]:
    from services.routing.learning.features import FeatureConfig
    from services.routing.learning.training import TrainingConfig, train
    from services.routing.signals import RoutingTrainingSignals, catalog_examples

    items, corrections, own = _read_training_data(args, path)
    _progress(f"read {len(items)} labelled texts from {path} ({corrections} corrections)")
    config = TrainingConfig(
        features=FeatureConfig(embed=args.embeddings, word_ngrams=(1, 2) if args.words else None),
        folds=args.folds,
        target_precision=args.target_precision,
    )
    allowed = [label.strip() for label in args.labels.split(",") if label.strip()] if args.labels else None
    if allowed is None and args.history is not None:
        allowed = list(DEFAULT_PARTIES)
    encoder = local_encoder(embedder, args.embedding_backend) if args.embeddings else None
    catalog = _catalog(args)
    model = train(
        items,
        config=config,
        encoder=encoder,
        allowed_labels=allowed,
        corrections=corrections,
        progress=_progress,
        signals=RoutingTrainingSignals(catalog) if args.signals else None,
        entry_examples=catalog_examples(catalog),
        tune_on=own,
    )
    return model, encoder


def run_train(args: argparse.Namespace, embedder: EmbedderConfig) -> int:
    """`linli train routing`: trains and writes the model directory; prints its manifest as JSON."""
    from services.routing.learning.model_dir import save_model

    training = _training_path(args, args.data)
    model, encoder = _train(args, training, embedder)
    if args.prior_shift is not None:
        from services.routing.learning.data import read_texts

        items = _read_training_data(args, training)[0]
        router = _offline_router(args, model.classifier, model.threshold, encoder, items)
        shift = _estimate_shift(router, [item.label for item in items], read_texts(Path(args.prior_shift)))
        model = replace(model, prior_shift=shift)
    manifest = save_model(model, args.out)
    _progress(f"wrote {args.out} in {model.train_seconds:.1f} s of training")
    sys.stdout.write(json.dumps(manifest.to_json(), ensure_ascii=False) + "\n")
    return 0


def _read_test(path: Path) -> list[LabelledText]:
    """{text, label} lines, or a HISTORY.jsonl (told by its label_confidence field) whose labelled lines are kept."""
    from services.routing.history.importing import is_history_file, labelled_items
    from services.routing.learning.data import read_labelled

    return labelled_items(path) if is_history_file(path) else read_labelled(path)


def run_eval(args: argparse.Namespace, embedder: EmbedderConfig) -> int:
    """`linli eval routing`: scores a freshly trained or the deployed router; the last stdout line is the report."""
    from services.routing.learning.data import read_labelled
    from services.routing.learning.evaluation import evaluate
    from services.routing.learning.model_dir import MANIFEST_FILE, load_model, read_manifest, save_model

    test = _read_test(args.test)
    train_seconds = 0.0
    if args.train is not None or args.history is not None:
        training = _training_path(args, args.train)
        started = time.perf_counter()
        model, encoder = _train(args, training, embedder)
        train_seconds = time.perf_counter() - started
        classifier, threshold, stored_shift = model.classifier, model.threshold, None
        precedents = _read_training_data(args, training)[0]
        training_labels = [item.label for item in precedents]
    else:
        directory = args.model or DEFAULT_MODEL_DIR
        if args.model is None and not (directory / MANIFEST_FILE).is_file():
            _progress(f"no model in {directory} yet: training the service's first model on {DEFAULT_PRECEDENTS}")
            started = time.perf_counter()
            save_model(_train(args, DEFAULT_PRECEDENTS, embedder)[0], directory)
            train_seconds = time.perf_counter() - started
        manifest = read_manifest(directory)
        encoder = local_encoder(embedder, args.embedding_backend) if manifest.embedding else None
        loaded = load_model(directory, encoder=encoder)
        classifier, threshold, stored_shift = loaded.classifier, loaded.threshold, loaded.prior_shift
        _progress(f"loaded {directory} (trained {manifest.created_at} on {manifest.data.count} texts)")
        # The deployed router votes over the index, which starts from the packaged resolved cases.
        precedents = read_labelled(args.precedents or DEFAULT_PRECEDENTS)
        training_labels = [label for label, count in manifest.data.label_counts.items() for _ in range(count)]
    _progress(f"{len(precedents)} precedents for the vote")
    predictor = _offline_router(args, classifier, threshold, encoder, precedents)
    predictor.prior_shift = _eval_prior_shift(args, predictor, training_labels, test) or stored_shift
    unknown = sorted({item.label for item in test} - set(predictor.labels))
    if unknown:
        _progress(f"warning: test labels the model cannot predict: {', '.join(unknown)}")
    report: dict[str, Any] = evaluate(
        predictor,
        [item.text for item in test],
        [item.label for item in test],
        train_seconds=train_seconds,
        progress=_progress,
    )
    if predictor.prior_shift is not None:
        report["prior_shift"] = predictor.prior_shift.to_json()
    sys.stdout.write(json.dumps(report, ensure_ascii=False) + "\n")
    return 0


def _offline_router(
    args: argparse.Namespace,
    classifier: StackedClassifier,
    threshold: float,
    encoder: Encoder | None,
    precedents: Sequence[LabelledText],
) -> OfflineRouter:
    from services.routing.offline import OfflineRouter

    return OfflineRouter(
        classifier,
        threshold=threshold,
        encoder=encoder,
        catalog=_catalog(args),
        precedent_texts=[item.text for item in precedents],
        precedent_labels=[item.label for item in precedents],
    )


def _eval_prior_shift(
    args: argparse.Namespace, router: OfflineRouter, training_labels: Sequence[str], test: Sequence[LabelledText]
) -> PriorShift | None:
    """With --prior-shift, the priors EM estimates from its file or else the test texts (labels unread)."""
    if args.prior_shift is None:
        return None
    from services.routing.learning.data import read_texts

    texts = [item.text for item in test] if args.prior_shift == TEST_TEXTS else read_texts(Path(args.prior_shift))
    return _estimate_shift(router, training_labels, texts)


def _estimate_shift(router: OfflineRouter, training_labels: Sequence[str], texts: Sequence[str]) -> PriorShift:
    """The EM prior shift from the training labels' mix to the one `texts` (unlabelled) show under `router`."""
    from services.routing.learning.prior_shift import fit_prior_shift, training_priors

    _progress(f"estimating the label priors of {len(texts)} unlabelled texts")
    shift = fit_prior_shift(
        router.labels, training_priors(router.labels, training_labels), router.probabilities(list(texts))
    )
    _progress(f"priors {shift.to_json()['training']} -> {shift.to_json()['estimated']}")
    return shift


def run_learning_command(args: argparse.Namespace, embedder: EmbedderConfig) -> int:
    """Runs `train routing` or `eval routing`, `embedder` being the retrieval model (used with `--embeddings`); a
    bad input file or model directory is one clear line on stderr."""
    try:
        return run_train(args, embedder) if args.command == "train" else run_eval(args, embedder)
    except LinliError as error:
        sys.stderr.write(f"linli {args.command} {args.target}: {error.message}\n")
        return 2
