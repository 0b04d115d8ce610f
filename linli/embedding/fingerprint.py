"""The identity of a model folder's weights: vectors from other weights must not be mixed."""

from __future__ import annotations

import hashlib
from pathlib import Path

# Derived files a backend may cache inside the model folder; they are not part of the model's identity.
FINGERPRINT_SKIP = {"onnx", "openvino", ".cache"}


def model_fingerprint(model_path: Path) -> str:
    """sha256 over the model folder's files (names and bytes): vectors from other weights must not be mixed."""
    digest = hashlib.sha256()
    for path in sorted(p for p in model_path.rglob("*") if p.is_file()):
        relative = path.relative_to(model_path)
        if relative.parts[0] in FINGERPRINT_SKIP:
            continue
        digest.update(str(relative).encode())
        with path.open("rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
