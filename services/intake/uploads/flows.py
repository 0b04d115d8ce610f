"""What residents and workers do with photos: upload one (checked and cleaned), read it back through fresh signed
links, and attach their own uploads to a ticket (TicketFlows calls `attach` inside its unit of work)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from sqlalchemy.orm import Session

from linli.errors import (
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    LinliError,
    NotFound,
    PermissionDenied,
    Unavailable,
)
from services.intake.auth.access import can_see
from services.intake.auth.identity import Caller, Resident, Worker
from services.intake.tickets import repository as tickets
from services.intake.tickets.context import FlowContext
from services.intake.tickets.models import Ticket, new_ticket_id
from services.intake.uploads import repository
from services.intake.uploads.images import CleanPhoto, ImageLimits, clean_photo
from services.intake.uploads.models import PhotoKind, Upload
from services.intake.uploads.storage import ObjectStore

logger = logging.getLogger(__name__)

NO_TICKET = "没有找到这条反映"
NO_PHOTO = "没有找到这张照片"


@dataclass(frozen=True)
class PhotoLinks:
    """Signed, short-lived links to a photo and its thumbnail; paths of the local store get `base_url` in front."""

    store: ObjectStore
    ttl_seconds: int
    base_url: str = ""

    def link(self, key: str) -> str:
        """A link to the object under `key` that works for `ttl_seconds`."""
        url = self.store.signed_url(key, self.ttl_seconds)
        return self.base_url.rstrip("/") + url if url.startswith("/") else url

    def based_at(self, base_url: str) -> PhotoLinks:
        """The same links made absolute at `base_url`, unless a public base is configured."""
        return self if self.base_url else PhotoLinks(self.store, self.ttl_seconds, base_url)


class UploadFlows:
    """Photo uploads over one database and one object store."""

    def __init__(self, context: FlowContext, store: ObjectStore, limits: ImageLimits, max_per_ticket: int) -> None:
        self._context = context
        self._store = store
        self._limits = limits
        self._max_per_ticket = max_per_ticket

    @property
    def limits(self) -> ImageLimits:
        """The size and pixel limits of a photo."""
        return self._limits

    def upload(self, caller: Caller, data: bytes, *, ticket_id: str = "") -> Upload:
        """Checks and cleans the photo, then stores it: for a ticket the caller may read (a resident's photo of the
        problem, a worker's of the work done), or unattached, its uploader's until a ticket takes it."""
        if not isinstance(caller, Resident | Worker):
            raise PermissionDenied("上传照片需要居民或工作人员的登录")
        photo = clean_photo(data, self._limits)  # before any transaction: decoding takes a while
        upload = self._new_upload(caller, photo)
        stored = False
        try:
            with self._context.transaction() as work:
                if ticket_id:
                    ticket = self._readable_ticket(caller, ticket_id, session=work.session)
                    self._check_room(ticket, 1, session=work.session)
                    upload.ticket_id = ticket.id
                self._put(upload, photo)
                stored = True
                repository.add(upload, session=work.session)
        except BaseException:
            if stored:
                self._remove(upload)
            raise
        return upload

    def get(self, caller: Caller, upload_id: str) -> Upload:
        """The upload, if the caller uploaded it or may read its ticket; NotFound otherwise."""
        with self._context.transaction() as work:
            upload = repository.find(upload_id, session=work.session)
            if upload is None or not self._may_read(caller, upload, session=work.session):
                raise NotFound(NO_PHOTO)
            return upload

    def attach(self, upload_ids: Sequence[str], ticket: Ticket, *, owner: str, kind: str, session: Session) -> None:
        """Gives the ticket the uploads `owner` made; refuses others' uploads, unknown ids, photos of another
        ticket and more photos than a ticket may carry. Runs inside the caller's unit of work."""
        wanted = list(dict.fromkeys(upload_ids))
        uploads, violations = [], []
        for position, upload_id in enumerate(wanted):
            upload = repository.find(upload_id, session=session, for_update=True)
            if upload is None:
                violations.append(FieldViolation(f"attachment_ids[{position}]", "没有这张照片,请重新上传"))
            elif upload.uploader != owner:
                raise PermissionDenied("不能使用别人上传的照片")
            elif upload.ticket_id not in (None, ticket.id):
                violations.append(FieldViolation(f"attachment_ids[{position}]", "这张照片已属于另一条反映"))
            elif upload.ticket_id is None:
                uploads.append(upload)
        if violations:
            raise InvalidArgument.for_fields(violations)
        self._check_room(ticket, len(uploads), session=session)
        for upload in uploads:
            upload.ticket_id, upload.kind = ticket.id, kind

    def _new_upload(self, caller: Resident | Worker, photo: CleanPhoto) -> Upload:
        upload_id = new_ticket_id()
        return Upload(
            id=upload_id,
            uploader=caller.actor,
            kind=(PhotoKind.AFTER if isinstance(caller, Worker) else PhotoKind.BEFORE).value,
            content_type=photo.content_type,
            photo_key=f"{upload_id}/photo.{photo.extension}",
            thumbnail_key=f"{upload_id}/thumbnail.jpg",
            width=photo.width,
            height=photo.height,
            size_bytes=len(photo.data),
            created_at=self._context.clock(),
        )

    @staticmethod
    def _readable_ticket(caller: Caller, ticket_id: str, *, session: Session) -> Ticket:
        """The ticket, locked (the photo count is checked under the lock); 404 when the caller may not read it."""
        try:
            ticket = tickets.get(ticket_id, session=session, for_update=True)
        except NotFound as error:
            raise NotFound(NO_TICKET) from error
        if not can_see(caller, ticket):
            raise NotFound(NO_TICKET)
        return ticket

    def _check_room(self, ticket: Ticket, adding: int, *, session: Session) -> None:
        if adding and repository.count_for_ticket(ticket.id, session=session) + adding > self._max_per_ticket:
            raise FailedPrecondition(f"每条反映最多 {self._max_per_ticket} 张照片,已经满了")

    @staticmethod
    def _may_read(caller: Caller, upload: Upload, *, session: Session) -> bool:
        if isinstance(caller, Resident | Worker) and upload.uploader == caller.actor:
            return True
        if upload.ticket_id is None:
            return False
        ticket = session.get(Ticket, upload.ticket_id)
        return ticket is not None and can_see(caller, ticket)

    def _put(self, upload: Upload, photo: CleanPhoto) -> None:
        try:
            self._store.put(upload.photo_key, photo.data, photo.content_type)
            self._store.put(upload.thumbnail_key, photo.thumbnail, "image/jpeg")
        except LinliError:
            raise
        except Exception as error:
            logger.exception("the photo store refused a photo", extra={"upload_id": upload.id})
            self._remove(upload)
            raise Unavailable("照片暂时无法保存,请稍后再试") from error

    def _remove(self, upload: Upload) -> None:
        delete_objects(self._store, [upload.photo_key, upload.thumbnail_key])


def delete_objects(store: ObjectStore, keys: Sequence[str]) -> None:
    """Deletes photos' objects whose rows are gone; one the store refuses is logged by key, and the others still go."""
    for key in keys:
        try:
            store.delete(key)
        except Exception:
            logger.exception("a photo could not be removed from the store", extra={"key": key})


class UnattachedPhotoSweep:
    """Forgets uploads no ticket took in time: a photo of a home, a door or a face is not kept for a submission that
    never came (LINLI_UPLOADS_UNATTACHED_HOURS; None keeps them). Beat runs it with the other sweeps."""

    def __init__(self, context: FlowContext, store: ObjectStore, kept_for: timedelta | None) -> None:
        self._context = context
        self._store = store
        self._kept_for = kept_for

    def forget_unattached(self) -> int:
        """Deletes up to a sweep batch of them, rows then (after the commit) objects; returns how many."""
        if self._kept_for is None:
            return 0
        with self._context.transaction() as work:
            keys = repository.remove_unattached(
                self._context.clock() - self._kept_for, limit=self._context.policy.sweep_batch, session=work.session
            )
            work.after_commit(partial(delete_objects, self._store, keys))
        photos = len(keys) // 2  # each photo's two objects: the photo and its thumbnail
        if photos:
            logger.info("forgot photos no ticket took", extra={"count": photos})
        return photos
