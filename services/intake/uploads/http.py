"""POST /v1/uploads (multipart, field `file`), GET /v1/uploads/{id}, and GET /files/<key> serving the local store's
signed links; a request body over the limit is refused before it is read."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, File, Form, Query, Request, Response, UploadFile, status
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from linli.errors import LinliError
from services.intake.auth.http import CallerDep
from services.intake.auth.identity import Resident
from services.intake.ratelimit import RateLimiter
from services.intake.ratelimit import Scope as LimitScope
from services.intake.uploads.assembly import Uploads
from services.intake.uploads.errors import PayloadTooLarge
from services.intake.uploads.flows import PhotoLinks, UploadFlows
from services.intake.uploads.images import check_size
from services.intake.uploads.models import Upload
from services.intake.uploads.storage import FILES_PREFIX, LocalObjectStore, check_key

UPLOADS_PATH = "/v1/uploads"
# Room for the multipart framing and the ticket_id field around the photo itself.
MULTIPART_OVERHEAD = 64 * 1024
Refuse = Callable[[LinliError], Response]
# What a refused upload answers, each with {error: {code, message, fields}} and a message in Chinese.
REFUSALS: dict[int | str, dict[str, Any]] = {
    404: {"description": "The ticket does not exist, or the caller may not read it."},
    409: {"description": "The ticket carries all the photos it may (LINLI_UPLOADS_MAX_PER_TICKET)."},
    413: {"description": "Too large: over LINLI_UPLOADS_MAX_BYTES, or LINLI_UPLOADS_MAX_PIXELS (decompression bombs)."},
    415: {"description": "Not a JPEG, PNG, WebP or HEIC photo, whatever its name or declared type."},
}
FILE_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}


class UploadOut(BaseModel):
    """A stored photo and links to it, valid until `expires_at` (GET /v1/uploads/{id} gives fresh ones)."""

    upload_id: str
    url: str = Field(description="Signed link to the photo (EXIF removed), absolute.")
    thumbnail_url: str = Field(description="Signed link to its JPEG thumbnail.")
    expires_at: datetime
    kind: str = Field(description="`before` (a resident's photo of the problem) or `after` (a worker's).")
    ticket_id: str = Field(description="The ticket it belongs to; empty until a ticket takes it.")
    content_type: str
    width: int
    height: int
    size_bytes: int


def upload_out(upload: Upload, links: PhotoLinks) -> UploadOut:
    """The upload as the API shows it."""
    return UploadOut(
        upload_id=upload.id,
        url=links.link(upload.photo_key),
        thumbnail_url=links.link(upload.thumbnail_key),
        expires_at=datetime.now(UTC) + timedelta(seconds=links.ttl_seconds),
        kind=upload.kind,
        ticket_id=upload.ticket_id or "",
        content_type=upload.content_type,
        width=upload.width,
        height=upload.height,
        size_bytes=upload.size_bytes,
    )


def upload_routes(flows: UploadFlows, links: PhotoLinks, limiter: RateLimiter) -> APIRouter:
    """The /v1/uploads routes; the local store's /files/ route is added by `file_routes`."""
    router = APIRouter(prefix=UPLOADS_PATH, tags=["uploads"])

    @router.post("", status_code=status.HTTP_201_CREATED, response_model=UploadOut, responses=REFUSALS)
    def upload_photo(
        request: Request,
        caller: CallerDep,
        file: Annotated[UploadFile, File(description="One JPEG, PNG, WebP or HEIC photo.")],
        ticket_id: Annotated[str, Form(description="The ticket it is for; empty: attached at submission.")] = "",
    ) -> UploadOut:
        """Stores one photo, checked by its content and re-encoded without EXIF (GPS), with a thumbnail. 413: too
        large (bytes or pixels); 415: not a JPEG/PNG/WebP/HEIC photo; 404: a ticket the caller may not read; 409:
        the ticket has all the photos it may carry."""
        if isinstance(caller, Resident):
            limiter.check(LimitScope.RESIDENT_WRITE, caller.resident_id)
        data = file.file.read(flows.limits.max_bytes + 1)
        check_size(len(data), flows.limits)
        upload = flows.upload(caller, data, ticket_id=ticket_id.strip())
        return upload_out(upload, links.based_at(str(request.base_url)))

    @router.get("/{upload_id}", response_model=UploadOut)
    def get_upload(upload_id: str, request: Request, caller: CallerDep) -> UploadOut:
        """A photo the caller uploaded, or of a ticket the caller may read, with fresh links (else 404)."""
        return upload_out(flows.get(caller, upload_id), links.based_at(str(request.base_url)))

    return router


def file_routes(store: LocalObjectStore) -> APIRouter:
    """GET /files/<key>?exp=..&sig=..: the local store's photos, for whoever holds a fresh signed link."""
    router = APIRouter(tags=["uploads"])

    @router.get(FILES_PREFIX + "{key:path}", response_class=Response)
    def signed_file(
        key: str, exp: Annotated[int, Query(description="Expiry, Unix seconds.")], sig: str = ""
    ) -> Response:
        """The photo or thumbnail the link was signed for; 403 when the link is forged or expired."""
        store.verify(check_key(key), exp, sig)
        return Response(
            store.get(key),
            media_type=FILE_TYPES[key.rsplit(".", 1)[1]],
            # Signed links are per reader and expire: no shared cache keeps them.
            headers={"Cache-Control": "private, max-age=300", "X-Content-Type-Options": "nosniff"},
        )

    return router


class UploadBodyLimit:
    """Refuses POST /v1/uploads with 413 once its body exceeds the photo limit plus framing, announced or not:
    a client cannot make intake spool gigabytes to disk."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, refuse: Refuse) -> None:
        self._app = app
        self._limit = max_bytes + MULTIPART_OVERHEAD
        self._refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != UPLOADS_PATH:
            await self._app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > self._limit:
            await self._too_large(scope, receive, send)
            return
        received, overflowed = 0, False

        async def counted() -> Message:
            nonlocal received, overflowed
            message = await receive()
            received += len(message.get("body", b""))
            if received > self._limit:
                overflowed = True
                raise _BodyTooLarge
            return message

        async def unless_overflowed(message: Message) -> None:
            # FastAPI answers a body it could not read with 400: ours says what was wrong.
            if not overflowed:
                await send(message)

        with contextlib.suppress(_BodyTooLarge):  # the app may let it through, or answer it (with 400)
            await self._app(scope, counted, unless_overflowed)
        if overflowed:
            await self._too_large(scope, receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        megabytes = (self._limit - MULTIPART_OVERHEAD) // (1024 * 1024)
        response = self._refuse(PayloadTooLarge(f"照片太大:每张不能超过 {megabytes} MB"))
        await response(scope, receive, send)


class _BodyTooLarge(Exception):
    """The body grew past the limit while it was read."""


def mount_uploads(app: FastAPI, uploads: Uploads, limiter: RateLimiter, refuse: Refuse) -> None:
    """Adds the upload routes, the body limit and (local store) the signed-file route to intake's HTTP app."""
    app.add_middleware(UploadBodyLimit, max_bytes=uploads.settings.max_bytes, refuse=refuse)
    app.include_router(upload_routes(uploads.flows, uploads.links, limiter))
    if isinstance(uploads.store, LocalObjectStore):
        app.include_router(file_routes(uploads.store))
