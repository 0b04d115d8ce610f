"""Who is acting: bearer tokens of workers, read from settings (simple tokens for now; the ops issue hardens them)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import grpc
from pydantic import TypeAdapter, ValidationError

from linli.errors import LinliError
from linli.settings import IntakeSettings, WorkerToken

BEARER = "bearer"
METADATA_KEY = "authorization"


class Unauthenticated(LinliError):
    """The caller did not say who they are, or said it with a token nobody issued."""

    grpc_code = grpc.StatusCode.UNAUTHENTICATED
    http_status = 401
    slug = "unauthenticated"


class Role(StrEnum):
    """What a worker may do beyond their own party's tickets."""

    WORKER = "worker"
    DISPATCHER = "dispatcher"


@dataclass(frozen=True)
class Worker:
    """An authenticated worker: who, for which party, in which community ('' serves every community)."""

    worker_id: str
    party: str
    community: str = ""
    role: Role = Role.WORKER

    @property
    def actor(self) -> str:
        """How the worker appears in a ticket's history."""
        return f"worker:{self.worker_id}"

    @property
    def is_dispatcher(self) -> bool:
        """True for the community's dispatcher, who may route manual-queue tickets to any party."""
        return self.role is Role.DISPATCHER

    def serves(self, community: str) -> bool:
        """True when the worker may act on tickets of `community`."""
        return not self.community or self.community == community


def _digest(token: str) -> str:
    # Looked up by digest, so that neither a dict probe nor a log line ever handles the raw token.
    return hashlib.sha256(token.encode()).hexdigest()


class WorkerDirectory:
    """Maps bearer tokens to workers."""

    def __init__(self, tokens: Mapping[str, WorkerToken]) -> None:
        self._workers = {
            _digest(token): Worker(entry.worker_id, entry.party, entry.community, Role(entry.role))
            for token, entry in tokens.items()
        }

    @classmethod
    def from_settings(cls, settings: IntakeSettings) -> WorkerDirectory:
        """The tokens of `LINLI_INTAKE_WORKER_TOKENS` plus those of `LINLI_INTAKE_WORKER_TOKENS_FILE`."""
        tokens = dict(settings.worker_tokens)
        if settings.worker_tokens_file is not None:
            tokens.update(read_token_file(settings.worker_tokens_file))
        return cls(tokens)

    def identify(self, authorization: str | None) -> Worker:
        """The worker behind an `Authorization: Bearer <token>` value; raises Unauthenticated otherwise."""
        if not authorization:
            raise Unauthenticated("worker actions need `Authorization: Bearer <token>`")
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != BEARER or not token.strip():
            raise Unauthenticated("the authorization must be `Bearer <token>`")
        worker = self._workers.get(_digest(token.strip()))
        if worker is None:
            raise Unauthenticated("unknown token")
        return worker

    def identify_metadata(self, metadata: Iterable[tuple[str, str | bytes]] | None) -> Worker:
        """The worker named by the gRPC metadata `authorization`."""
        for key, value in metadata or ():
            if key.lower() == METADATA_KEY:
                return self.identify(value.decode() if isinstance(value, bytes) else value)
        return self.identify(None)


def read_token_file(path: Path) -> dict[str, WorkerToken]:
    """Reads `{token: {worker_id, party, community, role}}` from a JSON file; raises ValueError naming the file."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return TypeAdapter(dict[str, WorkerToken]).validate_python(raw)
    except (OSError, json.JSONDecodeError, ValidationError) as error:
        raise ValueError(f"worker token file {path}: {error}") from error
