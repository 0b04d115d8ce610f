"""The errors of a refused upload, with the HTTP status each deserves (residents read the messages)."""

from __future__ import annotations

import grpc

from linli.errors import LinliError


class PayloadTooLarge(LinliError):
    """The photo (or the request carrying it) is larger than the limit."""

    grpc_code = grpc.StatusCode.INVALID_ARGUMENT
    http_status = 413
    slug = "payload_too_large"


class UnsupportedMediaType(LinliError):
    """The file is no photo we accept (not a raster image, or of a format we do not take)."""

    grpc_code = grpc.StatusCode.INVALID_ARGUMENT
    http_status = 415
    slug = "unsupported_media_type"
