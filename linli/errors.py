"""Domain errors that carry their own gRPC status and HTTP code, so every surface reports them the same way."""

from __future__ import annotations

from dataclasses import dataclass

import grpc

# Our ids are 32-36 characters; an "id" a caller makes up may be 100 KB, not to be echoed whole into answers and logs.
SHOWN_ID_CHARS = 64


def shown_id(identifier: str) -> str:
    """A caller's `identifier` quoted for an error message, cut to SHOWN_ID_CHARS characters (then '…') if longer."""
    if len(identifier) > SHOWN_ID_CHARS:
        identifier = identifier[:SHOWN_ID_CHARS] + "…"
    return repr(identifier)


@dataclass(frozen=True)
class FieldViolation:
    """One invalid request field: its name (dotted path) and what is wrong with it."""

    field: str
    description: str


class LinliError(Exception):
    """Base of the errors a caller can cause or should know about; never reported as INTERNAL."""

    grpc_code: grpc.StatusCode = grpc.StatusCode.UNKNOWN
    http_status: int = 500
    slug: str = "unknown"
    # Set on errors mapped from another service's reply: its own status code and message, as it sent them.
    remote_code: grpc.StatusCode | None = None
    remote_details: str = ""

    def __init__(self, message: str, *, violations: tuple[FieldViolation, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.violations = violations


class InvalidArgument(LinliError):
    """The request is malformed; `violations` names each bad field."""

    grpc_code = grpc.StatusCode.INVALID_ARGUMENT
    http_status = 422
    slug = "invalid_argument"

    @classmethod
    def for_field(cls, field: str, description: str) -> InvalidArgument:
        """An error about a single field, with the field named in the message too."""
        return cls(f"{field}: {description}", violations=(FieldViolation(field, description),))

    @classmethod
    def for_fields(cls, violations: list[FieldViolation]) -> InvalidArgument:
        """An error about several fields at once, so a client can fix them all in one go."""
        message = "; ".join(f"{v.field}: {v.description}" for v in violations)
        return cls(message, violations=tuple(violations))

    def nested(self, prefix: str) -> InvalidArgument:
        """This error about one item of a batch, its fields under `prefix` (`searches[2]` + `k`: `searches[2].k`)."""
        if not self.violations:
            return InvalidArgument(f"{prefix}: {self.message}")
        return InvalidArgument.for_fields(
            [FieldViolation(f"{prefix}.{v.field}", v.description) for v in self.violations]
        )


class NotFound(LinliError):
    """The addressed resource does not exist."""

    grpc_code = grpc.StatusCode.NOT_FOUND
    http_status = 404
    slug = "not_found"


class AlreadyExists(LinliError):
    """The resource exists and the request conflicts with it."""

    grpc_code = grpc.StatusCode.ALREADY_EXISTS
    http_status = 409
    slug = "already_exists"


class FailedPrecondition(LinliError):
    """The request is valid but not in the resource's current state (e.g. resolving a ticket never accepted)."""

    grpc_code = grpc.StatusCode.FAILED_PRECONDITION
    http_status = 409
    slug = "failed_precondition"


class PermissionDenied(LinliError):
    """The caller is known but may not do this (e.g. a worker acting outside their party)."""

    grpc_code = grpc.StatusCode.PERMISSION_DENIED
    http_status = 403
    slug = "permission_denied"


class Unauthenticated(LinliError):
    """The caller did not say who they are, or said it with a token that is expired, tampered or not ours."""

    grpc_code = grpc.StatusCode.UNAUTHENTICATED
    http_status = 401
    slug = "unauthenticated"


class Unavailable(LinliError):
    """The service or one it depends on cannot answer now; retrying later may succeed."""

    grpc_code = grpc.StatusCode.UNAVAILABLE
    http_status = 503
    slug = "unavailable"


class ResourceExhausted(LinliError):
    """A quota or rate limit was hit."""

    grpc_code = grpc.StatusCode.RESOURCE_EXHAUSTED
    http_status = 429
    slug = "resource_exhausted"


class RateLimited(ResourceExhausted):
    """Too many requests from one resident or address in the current window; `retry_after_seconds` says when."""

    slug = "rate_limited"

    def __init__(self, message: str, *, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


_FROM_GRPC: dict[grpc.StatusCode, type[LinliError]] = {
    cls.grpc_code: cls
    for cls in (InvalidArgument, NotFound, AlreadyExists, FailedPrecondition, PermissionDenied, ResourceExhausted)
}


def from_rpc_error(error: grpc.RpcError, *, service: str) -> LinliError:
    """Maps a failed call to another linli service back to a domain error.

    A caller's mistake keeps its code; anything else (down, timed out, internal) becomes Unavailable,
    because from this service's point of view a dependency failed.
    """
    code = error.code() if isinstance(error, grpc.Call) else grpc.StatusCode.UNKNOWN
    details = error.details() if isinstance(error, grpc.Call) else str(error)
    cls = _FROM_GRPC.get(code, Unavailable)
    mapped = cls(f"{service}: {details or code.name}")
    mapped.remote_code, mapped.remote_details = code, details or ""
    return mapped
