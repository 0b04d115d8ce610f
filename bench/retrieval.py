"""Every retrieval benchmark in one run: embedding speed, ANN search over the index, gRPC search round trips.

Run `python -m bench.retrieval` (what `make bench` does). Each benchmark prints its own figures under a heading
(gRPC round trips once per embedding backend); a closing table says which ran, how long each took and whether it
succeeded.
"""

from __future__ import annotations

import argparse
import importlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

BenchMain = Callable[[Sequence[str] | None], int]
SECTIONS = ("embedding", "ann", "grpc", "grpc-int8")


@dataclass(frozen=True)
class Section:
    """One benchmark: its module and the arguments it gets."""

    name: str
    module: str
    argv: list[str]


@dataclass(frozen=True)
class Outcome:
    """How one benchmark ended."""

    section: Section
    status: str
    seconds: float


def load_main(module: str) -> BenchMain | None:
    """The module's `main`, or None when the module does not exist (yet); a broken import still raises."""
    try:
        loaded = importlib.import_module(module)
    except ModuleNotFoundError as error:
        if error.name != module:
            raise  # the module exists but one of its imports is missing: that is a bug to see, not to skip
        return None
    main: BenchMain = loaded.main
    return main


def run_section(section: Section) -> Outcome:
    """Runs one benchmark under a heading; a missing module or a failure is reported, not raised."""
    print(f"\n==== {section.name}: python -m {section.module} {' '.join(section.argv)}".rstrip(), flush=True)
    started = time.monotonic()
    main = load_main(section.module)
    if main is None:
        print(f"{section.module} does not exist yet (another change adds it); skipped", flush=True)
        return Outcome(section, "missing", 0.0)
    try:
        code = main(section.argv)
    except Exception as error:  # one broken benchmark must not hide the others' figures
        print(f"{section.module} failed: {error!r}", flush=True)
        code = -1
    return Outcome(section, "ok" if code == 0 else f"failed ({code})", time.monotonic() - started)


def build_parser() -> argparse.ArgumentParser:
    """The command line of the combined benchmark."""
    parser = argparse.ArgumentParser(prog="python -m bench.retrieval", description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated subset of {', '.join(SECTIONS)}")
    parser.add_argument("--ann-sizes", default="10000,100000,1000000", help="index sizes for bench.ann_search")
    parser.add_argument("--grpc-requests", type=int, default=400, help="requests per concurrency for grpc_search")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the chosen benchmarks in order; 0 when none failed (a missing one is not a failure)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(SECTIONS))
    if unknown or not chosen:
        parser.error(f"--only takes names among {', '.join(SECTIONS)}; got {args.only!r}")
    torch, int8 = ["--embedding-backend", "torch"], ["--embedding-backend", "onnx-int8"]
    sections = {
        "embedding": Section("embedding", "bench.embedding_speed", []),
        "ann": Section("ann", "bench.ann_search", ["--sizes", args.ann_sizes]),
        "grpc": Section("grpc", "bench.grpc_search", ["--requests", str(args.grpc_requests), *torch]),
        "grpc-int8": Section("grpc-int8", "bench.grpc_search", ["--requests", str(args.grpc_requests), *int8]),
    }
    outcomes = [run_section(sections[name]) for name in SECTIONS if name in chosen]
    print("\n==== retrieval benchmarks")
    for outcome in outcomes:
        print(f"{outcome.section.name:<10} {outcome.section.module:<24} {outcome.status:<12} {outcome.seconds:>8.1f} s")
    return 1 if any(outcome.status.startswith("failed") for outcome in outcomes) else 0


if __name__ == "__main__":
    raise SystemExit(main())
