"""Photo uploads put together from their settings: the object store, the flows and the links, for intake's server."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from services.intake.tickets.context import FlowContext
from services.intake.uploads.flows import PhotoLinks, UploadFlows
from services.intake.uploads.images import ImageLimits
from services.intake.uploads.s3 import S3ObjectStore
from services.intake.uploads.settings import UploadSettings
from services.intake.uploads.storage import LinkSigner, LocalObjectStore, ObjectStore


@dataclass(frozen=True)
class Uploads:
    """What the HTTP app and the ticket flows use of photo uploads."""

    flows: UploadFlows
    links: PhotoLinks
    store: ObjectStore
    settings: UploadSettings


def create_object_store(settings: UploadSettings, *, secrets: Sequence[bytes]) -> ObjectStore:
    """The photo store the settings describe (LINLI_UPLOADS_*), a local one signing links under `secrets` (the keys
    of LINLI_AUTH_SECRETS); an S3 store is reached, and its bucket made, here."""
    if settings.backend == "s3":
        return S3ObjectStore.from_settings(settings)
    return LocalObjectStore(settings.folder, LinkSigner(secrets))


def create_uploads(context: FlowContext, settings: UploadSettings, *, secrets: Sequence[bytes]) -> Uploads:
    """The uploads the settings describe, their store made by `create_object_store`."""
    store = create_object_store(settings, secrets=secrets)
    limits = ImageLimits(settings.max_bytes, settings.max_pixels, settings.thumbnail_pixels)
    flows = UploadFlows(context, store, limits, settings.max_per_ticket)
    links = PhotoLinks(store, settings.link_ttl_seconds, settings.public_base_url)
    return Uploads(flows, links, store, settings)
