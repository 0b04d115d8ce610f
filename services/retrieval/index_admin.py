"""`linli index build|stats|prune-changes`: fill a local case store and index from a JSONL corpus, report what a
folder holds, and prune the case store's change feed.

Only argparse and the standard library are imported at module level: `linli` registers these subcommands on every
run, and `linli health` must stay quick. FAISS, SQLAlchemy and (for `build` without an injected embedder) torch are
imported when a subcommand runs.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Connection
    from sqlalchemy.orm import InstrumentedAttribute

    from linli.embedding import Embedder
    from services.retrieval.cases import CaseRecord
    from services.retrieval.memory import CaseMemory
    from services.retrieval.settings import RetrievalSettings
    from services.retrieval.snapshots import Manifest
    from services.retrieval.store import CaseStore

# The case store's file inside the index folder when no LINLI_RETRIEVAL_CASE_STORE_URL is set (settings.py).
CASE_STORE_FILE = "cases.sqlite"
SNAPSHOTS_DIR = "snapshots"


class IndexAdminError(Exception):
    """A problem the person running the command can fix (missing file, bad corpus, empty folder)."""


@dataclass(frozen=True)
class BuildReport:
    """What one `index build` did."""

    added: int
    updated: int
    unchanged: int
    case_count: int
    index_type: str
    snapshot: Path
    seconds: float


@dataclass(frozen=True)
class FolderStats:
    """What an index folder holds, read from its files (no server needed)."""

    index_dir: Path
    case_count: int
    resolved_count: int
    models: dict[str, int]
    dimensions: list[int]
    parties: dict[str, int]
    snapshot_count: int
    newest_snapshot: str | None
    manifest: Manifest | None
    kind_for_count: str
    hnsw_threshold: int
    notes: list[str] = field(default_factory=list)


def _open_memory(settings: RetrievalSettings, embedder: Embedder | None) -> tuple[CaseMemory, CaseStore]:
    from services.retrieval.server import RetrievalDeps, build_memory
    from services.retrieval.store import CaseStore

    if embedder is None:  # fail with the reason before creating anything
        try:
            model_path = settings.resolved_model_path()
        except RuntimeError as error:
            raise IndexAdminError(str(error)) from error
        if not (model_path / "config.json").is_file():
            raise IndexAdminError(f"no sentence-transformers model in {model_path}")
    settings.index_dir.mkdir(parents=True, exist_ok=True)
    store = CaseStore.from_url(settings.resolved_case_store_url())  # the folder's SQLite file unless a URL is set
    # No starter corpus here: the folder should hold exactly what the given corpus says.
    unseeded = settings.model_copy(update={"seed_corpus": None})
    return build_memory(unseeded, RetrievalDeps(embedder=embedder, store=store)), store


def read_valid_corpus(corpus: Path) -> list[CaseRecord]:
    """Reads and validates the whole corpus before anything is written, naming every bad case."""
    from linli.errors import InvalidArgument
    from services.retrieval.cases import read_corpus, validate_cases

    if not corpus.is_file():
        raise IndexAdminError(f"no corpus file at {corpus}")
    try:
        cases = read_corpus(corpus)  # names file:line of a line that is not a case, wrong JSON types included
        validate_cases(cases, field="corpus")  # corpus[i]: the i-th case of the file, counting from 0
    except (ValueError, InvalidArgument) as error:
        raise IndexAdminError(f"{corpus}: {error}") from error
    if not cases:
        raise IndexAdminError(f"{corpus} holds no cases")
    return cases


def build_index(
    corpus: Path,
    settings: RetrievalSettings,
    *,
    embedder: Embedder | None = None,
    progress: bool = True,
) -> BuildReport:
    """Embeds and upserts a corpus into the case store and index of `settings.index_dir`, then snapshots it.

    Re-running is resuming: case ids are the corpus's own, cases already stored unchanged are skipped without
    being embedded again, and changed ones are replaced. `progress` shows a tqdm bar on stderr.
    """
    from tqdm import tqdm  # type: ignore[import-untyped]  # ships no type information

    cases = read_valid_corpus(corpus)
    started = time.monotonic()
    memory, store = _open_memory(settings, embedder)
    added = updated = unchanged = 0
    with tqdm(total=len(cases), unit="case", desc="index build", file=sys.stderr, disable=not progress) as bar:
        for start in range(0, len(cases), settings.max_batch):
            batch = cases[start : start + settings.max_batch]
            stored = store.existing([case.id for case in batch])
            changed = [case for case in batch if stored.get(case.id) != _as_stored(case)]
            if changed:
                memory.upsert(changed)
            updated += sum(case.id in stored for case in changed)
            added += sum(case.id not in stored for case in changed)
            unchanged += len(batch) - len(changed)
            bar.update(len(batch))
    _compact(memory, settings.hnsw_threshold)
    snapshot = memory.snapshot()
    stats = memory.stats()
    return BuildReport(
        added, updated, unchanged, stats.case_count, stats.index_type, snapshot, time.monotonic() - started
    )


def _as_stored(case: CaseRecord) -> CaseRecord:
    """The case as CaseMemory.upsert stores it: scrubbed of personal data (compare like with like).

    Should the memory scrub more fields one day, unchanged cases would merely be upserted again, never skipped
    wrongly.
    """
    from linli.pii import scrub

    return replace(case, complaint=scrub(case.complaint), resolution=scrub(case.resolution))


def _compact(memory: CaseMemory, hnsw_threshold: int) -> None:
    """Rebuilds before the snapshot when the index is of the wrong kind for its size or holds tombstones.

    Upserts only start a background rebuild, which a short-lived command could exit before; a snapshot of the
    final kind, without dead vectors, is what the server should load.
    """
    stats = memory.stats()
    hnsw_now = stats.index_type.startswith("IDMap2,HNSW")
    if hnsw_now != (stats.case_count >= hnsw_threshold) or stats.stale_fraction > 0:
        memory.rebuild()


def read_stats(index_dir: Path, *, hnsw_threshold: int) -> FolderStats:
    """Counts, models, parties and snapshots of an index folder, read only (nothing is created or changed)."""
    from sqlalchemy import create_engine, func, select
    from sqlalchemy.exc import SQLAlchemyError

    from services.retrieval.cases import CaseStatus
    from services.retrieval.index import IndexParams
    from services.retrieval.snapshots import SnapshotStore
    from services.retrieval.store_rows import CaseRow

    database = index_dir / CASE_STORE_FILE
    if not database.is_file():
        raise IndexAdminError(f"no case store at {database}; build one with `linli index build --corpus FILE`")
    engine = create_engine(f"sqlite:///file:{database}?mode=ro&uri=true")
    try:
        with engine.connect() as connection:
            models = _counts(connection, CaseRow.model)
            parties = _counts(connection, CaseRow.party)
            statuses = _counts(connection, CaseRow.status)
            lengths = connection.execute(select(func.length(CaseRow.vector)).distinct()).scalars().all()
    except SQLAlchemyError as error:
        raise IndexAdminError(f"cannot read the case store {database}: {error}") from error
    finally:
        engine.dispose()
    folders: list[Path] = []
    if (index_dir / SNAPSHOTS_DIR).is_dir():  # SnapshotStore creates a missing folder; reading must not
        folders = SnapshotStore(index_dir / SNAPSHOTS_DIR).snapshots()
    newest, manifest, unreadable = _newest_readable(folders)
    count = sum(models.values())
    notes = []
    if manifest is not None and manifest.count != count:
        notes.append(
            f"the store holds {count} cases, the newest snapshot {manifest.count}: a server catches up at start"
        )
    if len(models) > 1:
        notes.append("cases stored under several models: a server re-embeds them at start")
    notes.extend(f"snapshot {name} has no readable manifest; a server skips it" for name in unreadable)
    return FolderStats(
        index_dir=index_dir,
        case_count=count,
        resolved_count=statuses.get(CaseStatus.RESOLVED.value, 0),
        models=models,
        dimensions=sorted(int(length) // 4 for length in lengths),  # float32 vectors
        parties=dict(sorted(parties.items(), key=lambda item: (-item[1], item[0]))),
        snapshot_count=len(folders),
        newest_snapshot=newest,
        manifest=manifest,
        kind_for_count=IndexParams(hnsw_threshold=hnsw_threshold).kind_for(count).value,
        hnsw_threshold=hnsw_threshold,
        notes=notes,
    )


def _newest_readable(folders: list[Path]) -> tuple[str | None, Manifest | None, list[str]]:
    """The newest snapshot whose manifest reads, that manifest, and the newer folders skipped as unreadable."""
    import json

    from services.retrieval.snapshots import FORMAT_VERSION, MANIFEST_FILE, Manifest

    unreadable: list[str] = []
    for folder in folders:
        try:
            manifest = Manifest(**json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            manifest = None
        if manifest is not None and manifest.format_version == FORMAT_VERSION:
            return folder.name, manifest, unreadable
        unreadable.append(folder.name)
    return None, None, unreadable


def _counts(connection: Connection, column: InstrumentedAttribute[str]) -> dict[str, int]:
    from sqlalchemy import func, select

    rows = connection.execute(select(column, func.count()).group_by(column)).all()
    return {str(value): int(count) for value, count in rows}


def format_stats(stats: FolderStats) -> str:
    """The stats as lines for people."""
    lines = [
        f"index folder: {stats.index_dir}",
        f"cases: {stats.case_count} ({stats.resolved_count} resolved)",
        "model: " + (", ".join(f"{name} ({count} cases)" for name, count in stats.models.items()) or "none"),
        "dimension: " + (", ".join(str(d) for d in stats.dimensions) or "none"),
        f"index kind: {stats.manifest.kind if stats.manifest else 'none'} in the newest snapshot; "
        f"a rebuild makes {stats.kind_for_count} (HNSW from {stats.hnsw_threshold} cases)",
        "per party: " + (", ".join(f"{party} {count}" for party, count in stats.parties.items()) or "none"),
        f"snapshots: {stats.snapshot_count}",
    ]
    if stats.manifest is None:
        lines.append("newest snapshot: none (a server rebuilds the index from the store at start)")
    else:
        lines.append(f"newest snapshot: {stats.newest_snapshot}")
        lines.extend(f"  {key}: {value}" for key, value in asdict(stats.manifest).items())
    lines.extend(f"note: {note}" for note in stats.notes)
    return "\n".join(lines)


def prune_changes(settings: RetrievalSettings, retention_hours: float) -> str:
    """Deletes the case store's changes older than `retention_hours` (docs/adr/0011, pruning); says what it did."""
    from datetime import timedelta

    from services.retrieval.store import CaseStore

    if retention_hours <= 0:
        raise IndexAdminError(f"--retention-hours must be positive, not {retention_hours:g}")
    url = settings.resolved_case_store_url()
    if not settings.case_store_url and not (settings.index_dir / CASE_STORE_FILE).is_file():
        raise IndexAdminError(f"no case store in {settings.index_dir} and no LINLI_RETRIEVAL_CASE_STORE_URL")
    store = CaseStore.from_url(url)
    try:
        pruned = store.prune_changes(timedelta(hours=retention_hours))
    finally:
        store.dispose()
    return (
        f"{pruned.deleted} changes older than {retention_hours:g} h deleted from {store.url}; "
        f"the feed is pruned through seq {pruned.through}"
    )


def add_index_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    """Registers `index build`, `stats` and `prune-changes` on the `linli` command; returns the `index` subcommands,
    to which services/cli/admin_commands.py adds those that call a running server."""
    index = commands.add_parser(
        "index",
        help="build or inspect a local case index, prune the change feed, or snapshot or reload a running server's",
    )
    actions = index.add_subparsers(dest="index_command", required=True)
    build = actions.add_parser("build", help="embed a JSONL corpus into the case store and index, then snapshot")
    build.add_argument("--corpus", type=Path, required=True, help="JSONL of cases, as in starter_cases.jsonl")
    build.add_argument("--index-dir", type=Path, help="default: LINLI_RETRIEVAL_INDEX_DIR")
    stats = actions.add_parser("stats", help="print cases, model, index kind, snapshots and per-party counts")
    stats.add_argument("--index-dir", type=Path, help="default: LINLI_RETRIEVAL_INDEX_DIR")
    prune = actions.add_parser("prune-changes", help="delete the case store's change-feed rows older than a retention")
    prune.add_argument("--retention-hours", type=float, help="default: LINLI_RETRIEVAL_CHANGE_RETENTION_HOURS")
    prune.add_argument("--index-dir", type=Path, help="default: LINLI_RETRIEVAL_INDEX_DIR (its SQLite store)")
    return actions


def run_index_command(
    args: argparse.Namespace, *, settings: RetrievalSettings, embedder: Embedder | None = None
) -> int:
    """Runs `linli index ...` on `settings` (LINLI_RETRIEVAL_*, read by the command's entry); 0 on success, 1 with a
    message on stderr when the input or folder is wrong."""
    from linli.errors import LinliError

    if args.index_dir is not None:
        settings = settings.model_copy(update={"index_dir": args.index_dir})
    try:
        if args.index_command == "build":
            report = build_index(args.corpus, settings, embedder=embedder)
            sys.stdout.write(
                f"{report.added} added, {report.updated} updated, {report.unchanged} unchanged in "
                f"{report.seconds:.1f} s; {report.case_count} cases, {report.index_type}; "
                f"snapshot {report.snapshot}\n"
            )
        elif args.index_command == "prune-changes":
            hours = settings.change_retention_hours if args.retention_hours is None else args.retention_hours
            sys.stdout.write(prune_changes(settings, hours) + "\n")
        else:
            sys.stdout.write(format_stats(read_stats(settings.index_dir, hnsw_threshold=settings.hnsw_threshold)))
            sys.stdout.write("\n")
    except (IndexAdminError, LinliError) as error:
        sys.stderr.write(f"linli index {args.index_command}: {error}\n")
        return 1
    return 0
