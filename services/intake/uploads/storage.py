"""Where photos are kept, behind one interface: a local folder (the embedded default, served by intake through
HMAC-signed links) or an S3-compatible store (services/intake/uploads/s3.py, presigned links)."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol
from urllib.parse import urlencode

from linli.errors import NotFound, PermissionDenied

FILES_PREFIX = "/files/"
# The only keys uploads ever write: <upload id>/photo.<ext> and <upload id>/thumbnail.jpg.
KEY_PATTERN = re.compile(r"^[0-9a-f]{32}/(photo\.(jpg|png|webp)|thumbnail\.jpg)$")
EXPIRED_LINK = "照片链接已失效,请刷新页面后再打开"


class ObjectStore(Protocol):
    """Bytes under keys, and links that let a browser fetch one for a short while."""

    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Stores `data` under `key`, replacing what was there."""
        ...

    def get(self, key: str) -> bytes:
        """The bytes under `key`; raises NotFound."""
        ...

    def delete(self, key: str) -> None:
        """Removes `key`; no error when it is already gone."""
        ...

    def signed_url(self, key: str, ttl_seconds: int) -> str:
        """A link to `key` that works for `ttl_seconds` (a path for the local store, a URL for S3)."""
        ...


def check_key(key: str) -> str:
    """The key, if it is one uploads write; NotFound otherwise (no path ever leaves the store's folder)."""
    if not KEY_PATTERN.fullmatch(key):
        raise NotFound("没有找到这张照片")
    return key


class LinkSigner:
    """HMAC-SHA256 over a link's path and expiry, under keys derived from LINLI_AUTH_SECRETS (the first signs, all
    verify, so the secrets rotate as tokens do)."""

    def __init__(self, secrets: Sequence[bytes], *, clock: Callable[[], float] = time.time) -> None:
        if not secrets:
            raise ValueError("signing photo links needs at least one key")
        # A key of its own: a photo link's signature can never be replayed as a token's, or the other way.
        self._keys = tuple(hmac.new(secret, b"linli uploads link", hashlib.sha256).digest() for secret in secrets)
        self._clock = clock

    def sign(self, path: str, ttl_seconds: int) -> str:
        """`path` with the query (exp, sig) that lets it be fetched until now + ttl."""
        expires = int(self._clock()) + ttl_seconds
        return f"{path}?{urlencode({'exp': expires, 'sig': self._signature(self._keys[0], path, expires)})}"

    def verify(self, path: str, expires: int, signature: str) -> None:
        """Raises PermissionDenied unless the signature is ours and the link has not expired."""
        matched = [hmac.compare_digest(self._signature(key, path, expires), signature) for key in self._keys]
        if not any(matched) or expires < self._clock():
            raise PermissionDenied(EXPIRED_LINK)

    @staticmethod
    def _signature(key: bytes, path: str, expires: int) -> str:
        return hmac.new(key, f"{path}\n{expires}".encode(), hashlib.sha256).hexdigest()


class LocalObjectStore:
    """Files in a folder; links point at intake's own GET /files/<key>, which checks their signature."""

    def __init__(self, folder: Path, signer: LinkSigner) -> None:
        self._folder = folder.resolve()
        self._signer = signer

    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Writes the file atomically (a reader never sees half of it)."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.part")
        partial.write_bytes(data)
        partial.replace(path)

    def get(self, key: str) -> bytes:
        """The file's bytes; NotFound when it is missing."""
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as error:
            raise NotFound("没有找到这张照片") from error

    def delete(self, key: str) -> None:
        """Removes the file, and its folder once empty."""
        path = self._path(key)
        path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # the photo's other file is still there
            path.parent.rmdir()

    def signed_url(self, key: str, ttl_seconds: int) -> str:
        """/files/<key>?exp=..&sig=.."""
        return self._signer.sign(FILES_PREFIX + check_key(key), ttl_seconds)

    def verify(self, key: str, expires: int, signature: str) -> None:
        """Raises PermissionDenied unless the link to `key` is signed and fresh."""
        self._signer.verify(FILES_PREFIX + key, expires, signature)

    def _path(self, key: str) -> Path:
        return self._folder / check_key(key)
