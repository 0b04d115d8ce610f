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


def create_uploads(context: FlowContext, settings: UploadSettings, *, secrets: Sequence[bytes]) -> Uploads:
    """The uploads the settings describe (LINLI_UPLOADS_*), links signed under `secrets` (default: the keys of
    LINLI_AUTH_SECRETS); an S3 store is reached, and its bucket made, here."""
    store: ObjectStore
    if settings.backend == "s3":
        store = S3ObjectStore.from_settings(settings)
    else:
        signer = LinkSigner(secrets)
        store = LocalObjectStore(settings.folder, signer)
    limits = ImageLimits(settings.max_bytes, settings.max_pixels, settings.thumbnail_pixels)
    flows = UploadFlows(context, store, limits, settings.max_per_ticket)
    links = PhotoLinks(store, settings.link_ttl_seconds, settings.public_base_url)
    return Uploads(flows, links, store, settings)
