"""Photos in an S3-compatible bucket (MinIO in compose and Kubernetes, or S3 itself) through the `minio` client;
browsers fetch them with presigned GETs, so the bytes never pass through intake."""

from __future__ import annotations

import io
from datetime import timedelta

from minio import Minio
from minio.error import S3Error

from linli.errors import NotFound
from services.intake.uploads.settings import UploadSettings
from services.intake.uploads.storage import check_key

MISSING_CODES = {"NoSuchKey", "NoSuchObject"}


class S3ObjectStore:
    """One bucket of an S3-compatible store; `presigner` signs links for the host browsers reach (signing is local
    computation: with the region known, it never calls the store)."""

    def __init__(self, client: Minio, bucket: str, presigner: Minio | None = None) -> None:
        self._client = client
        self._bucket = bucket
        self._presigner = presigner or client

    @classmethod
    def from_settings(cls, settings: UploadSettings) -> S3ObjectStore:
        """The store the settings name, its bucket created when missing; RuntimeError when it does not answer."""
        secret = settings.secret_key.get_secret_value() if settings.secret_key else ""
        client = Minio(
            settings.endpoint,
            access_key=settings.access_key,
            secret_key=secret,
            secure=settings.secure,
            region=settings.region,
        )
        presigner = Minio(
            settings.public_endpoint or settings.endpoint,
            access_key=settings.access_key,
            secret_key=secret,
            secure=settings.public_secure if settings.public_endpoint else settings.secure,
            region=settings.region,
        )
        try:
            if not client.bucket_exists(settings.bucket):
                client.make_bucket(settings.bucket, location=settings.region)
        except Exception as error:
            raise RuntimeError(
                f"the photo store at {settings.endpoint} (bucket {settings.bucket}) does not answer: {error}; "
                "check LINLI_UPLOADS_ENDPOINT and its keys"
            ) from error
        return cls(client, settings.bucket, presigner)

    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Uploads the object."""
        self._client.put_object(self._bucket, check_key(key), io.BytesIO(data), len(data), content_type=content_type)

    def get(self, key: str) -> bytes:
        """The object's bytes; NotFound when it is missing."""
        try:
            response = self._client.get_object(self._bucket, check_key(key))
        except S3Error as error:
            if error.code in MISSING_CODES:
                raise NotFound("没有找到这张照片") from error
            raise
        try:
            return bytes(response.read())
        finally:
            response.close()
            response.release_conn()

    def delete(self, key: str) -> None:
        """Removes the object (S3 answers success for a missing one too)."""
        self._client.remove_object(self._bucket, check_key(key))

    def signed_url(self, key: str, ttl_seconds: int) -> str:
        """A presigned GET of the object."""
        return str(self._presigner.presigned_get_object(self._bucket, check_key(key), timedelta(seconds=ttl_seconds)))
