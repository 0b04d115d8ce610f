"""Which scrubber this is: a digest of its rules and of the dictionary it reads, to tell texts it scrubbed.

A case is scrubbed on its way into the case store and stored with this fingerprint; on its way out it is scrubbed
again only when an older (or newer) scrubber stored it, since scrubbing is idempotent for the same rules but an
improved scrubber must still mask what an older one let through (docs/adr/0015).
"""

from __future__ import annotations

import functools
import hashlib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

# The modules whose rules decide what is masked: any change to them is a new scrubber.
_RULE_MODULES = ("__init__.py", "bare_names.py", "surnames.py")


@functools.cache
def scrubber_fingerprint() -> str:
    """16 hex digits naming this scrubber: its rule modules' bytes and the jieba release whose dictionary it reads."""
    digest = hashlib.sha256()
    folder = Path(__file__).parent
    for name in _RULE_MODULES:
        digest.update((folder / name).read_bytes())
    try:
        digest.update(version("jieba").encode())
    except PackageNotFoundError:  # bare names are then not detected at all: a scrubber of its own
        digest.update(b"no-jieba")
    return digest.hexdigest()[:16]
