"""Index snapshots on disk: written atomically with a manifest, loaded newest-valid-first."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faiss
import numpy as np

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
INDEX_FILE = "index.faiss"
MANIFEST_FILE = "manifest.json"
TEMP_PREFIX = ".tmp-"


@dataclass(frozen=True)
class Manifest:
    """What a snapshot holds and what it was built with; a snapshot is only loaded if all of it checks out."""

    format_version: int
    model: str
    model_checksum: str
    dimension: int
    count: int
    kind: str
    max_key: int
    index_sha256: str
    created_at: str
    # The newest change of the case store's feed the index holds (0: written before the feed existed).
    seq: int = 0


@dataclass(frozen=True)
class LoadedSnapshot:
    """A snapshot read into memory: its folder's name, the FAISS index and the manifest that vouched for it."""

    name: str
    index: Any
    manifest: Manifest


def _fsync_file(path: Path) -> None:
    with path.open("rb") as stream:
        os.fsync(stream.fileno())


def _fsync_dir(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class SnapshotStore:
    """A folder of snapshot folders, each `<created>-<count>/{index.faiss, manifest.json}`.

    A snapshot is written into a hidden temporary folder, every file fsynced, then the folder is renamed into place
    and the parent fsynced: a crash at any point leaves either the complete new snapshot or none of it, and the
    previous snapshots untouched.
    """

    def __init__(self, root: Path, *, keep: int = 3) -> None:
        self.root = root
        self.keep = keep
        root.mkdir(parents=True, exist_ok=True)

    def write(self, serialized: Any, *, model: str, model_checksum: str, dimension: int, count: int, kind: str,
              max_key: int, seq: int = 0) -> Path:  # fmt: skip
        """Writes one snapshot of a serialized index (`faiss.serialize_index`) and returns its folder."""
        created = datetime.now(UTC)
        temporary = self.root / f"{TEMP_PREFIX}{uuid.uuid4().hex}"
        temporary.mkdir()
        index_path = temporary / INDEX_FILE
        np.asarray(serialized, dtype=np.uint8).tofile(index_path)
        _fsync_file(index_path)
        manifest = Manifest(
            format_version=FORMAT_VERSION,
            model=model,
            model_checksum=model_checksum,
            dimension=dimension,
            count=count,
            kind=kind,
            max_key=max_key,
            index_sha256=_sha256(index_path),
            created_at=created.isoformat(),
            seq=seq,
        )
        manifest_path = temporary / MANIFEST_FILE
        manifest_path.write_text(json.dumps(asdict(manifest), indent=2), encoding="utf-8")
        _fsync_file(manifest_path)
        _fsync_dir(temporary)
        final = self.root / f"{created:%Y%m%dT%H%M%S%fZ}-{count}"
        os.rename(temporary, final)
        _fsync_dir(self.root)
        self._prune()
        return final

    def newest_valid(self, *, model_checksum: str, dimension: int) -> LoadedSnapshot | None:
        """The newest snapshot whose manifest, checksum, model and dimension all check out, read into memory."""
        for folder in self.snapshots():
            try:
                manifest = self._manifest(folder)
                if manifest.model_checksum != model_checksum or manifest.dimension != dimension:
                    logger.info("snapshot built with another model; skipped", extra={"snapshot": folder.name})
                    continue
                index_path = folder / INDEX_FILE
                if _sha256(index_path) != manifest.index_sha256:
                    raise ValueError("index checksum mismatch")
                faiss_index = faiss.read_index(str(index_path))
                if int(faiss_index.ntotal) < manifest.count or faiss_index.d != dimension:
                    raise ValueError("index does not hold what the manifest says")
            except (OSError, ValueError, KeyError, TypeError, RuntimeError) as error:
                logger.warning("invalid snapshot skipped: %s", error, extra={"snapshot": folder.name})
                continue
            return LoadedSnapshot(folder.name, faiss_index, manifest)
        return None

    def snapshots(self) -> list[Path]:
        """Complete snapshot folders, newest first (temporary leftovers of a crash are not snapshots)."""
        folders = [p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(TEMP_PREFIX)]
        return sorted(folders, key=lambda p: p.name, reverse=True)

    def newest_manifest(self) -> Manifest | None:
        """The newest readable manifest, without loading its index (for stats)."""
        for folder in self.snapshots():
            try:
                return self._manifest(folder)
            except (OSError, ValueError, KeyError, TypeError):
                continue
        return None

    def remove_leftovers(self) -> None:
        """Deletes temporary folders a crash left behind."""
        for path in self.root.glob(f"{TEMP_PREFIX}*"):
            shutil.rmtree(path, ignore_errors=True)

    @staticmethod
    def _manifest(folder: Path) -> Manifest:
        data = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
        manifest = Manifest(**data)
        if manifest.format_version != FORMAT_VERSION:
            raise ValueError(f"snapshot format {manifest.format_version}, expected {FORMAT_VERSION}")
        return manifest

    def _prune(self) -> None:
        for old in self.snapshots()[self.keep :]:
            shutil.rmtree(old, ignore_errors=True)
