"""The S3 backend (MinIO in compose, any S3-compatible store in production): objects under the checked keys, a missing
object is NotFound, and presigned links name the host browsers reach, signed without calling the store."""

from __future__ import annotations

import io
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from minio import Minio
from minio.error import S3Error
from urllib3 import HTTPResponse

from linli.errors import NotFound
from services.intake.uploads.s3 import S3ObjectStore

KEY = "0123456789abcdef0123456789abcdef/photo.jpg"
SECRET = secrets.token_hex(16)  # any key signs; nothing checks it here


class FakeBucketClient:
    """The calls S3ObjectStore makes of a Minio client, on a dict."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], tuple[bytes, str]] = {}

    def put_object(self, bucket: str, key: str, data: io.BytesIO, length: int, *, content_type: str) -> None:
        self.objects[(bucket, key)] = (data.read(length), content_type)

    def get_object(self, bucket: str, key: str) -> Any:
        if (bucket, key) not in self.objects:
            raise S3Error(HTTPResponse(status=404), "NoSuchKey", "missing", key, "r", "h")
        return HTTPResponse(body=io.BytesIO(self.objects[(bucket, key)][0]), preload_content=False)

    def remove_object(self, bucket: str, key: str) -> None:
        self.objects.pop((bucket, key), None)


def test_objects_go_in_come_out_and_go_away() -> None:
    client = FakeBucketClient()
    store = S3ObjectStore(client, "linli-uploads")  # type: ignore[arg-type]

    store.put(KEY, b"jpeg bytes", "image/jpeg")

    assert client.objects[("linli-uploads", KEY)] == (b"jpeg bytes", "image/jpeg")
    assert store.get(KEY) == b"jpeg bytes"
    store.delete(KEY)
    with pytest.raises(NotFound, match="没有找到这张照片"):
        store.get(KEY)


def test_a_key_uploads_never_write_is_refused() -> None:
    store = S3ObjectStore(FakeBucketClient(), "linli-uploads")  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        store.put("../other-bucket/x.jpg", b"x", "image/jpeg")


def test_presigned_links_name_the_public_host_and_expire() -> None:
    # Signing is local: with the region given, these clients never open a connection (nothing listens there).
    internal = Minio("minio.invalid:9000", access_key="linli", secret_key=SECRET, secure=False, region="us-east-1")
    public = Minio("files.example.org", access_key="linli", secret_key=SECRET, region="us-east-1")
    store = S3ObjectStore(internal, "linli-uploads", public)

    link = urlsplit(store.signed_url(KEY, 600))

    assert (link.scheme, link.netloc, link.path) == ("https", "files.example.org", f"/linli-uploads/{KEY}")
    query = parse_qs(link.query)
    assert query["X-Amz-Expires"] == ["600"]
    assert query["X-Amz-Signature"][0]
