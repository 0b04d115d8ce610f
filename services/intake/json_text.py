"""Refuses JSON request bodies whose strings hold lone UTF-16 surrogates, before any route reads them.

JSON may spell a surrogate on its own (`"\\ud800"`); Python decodes it into a str that no UTF-8 encoder, so no
database, accepts. One check here covers every field of every route (ticket text, building, idempotency key,
attachment URLs, comments, reasons, meeting titles), instead of a rule per field.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from linli.errors import InvalidArgument, LinliError
from services.intake.tickets.validation import LONE_SURROGATE_MESSAGE, has_lone_surrogates


def lone_surrogate_field(document: Any) -> str | None:
    """The path (`attachment_urls[0]`, `location.note`) of a string, or key, with a lone surrogate; None if none.

    A walk with its own stack: a body nested thousands deep must not hit Python's recursion limit here.
    """
    pending: list[tuple[str, Any]] = [("", document)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, str) and has_lone_surrogates(value):
            return path or "body"
        if isinstance(value, dict):
            for key, item in value.items():
                inner = f"{path}.{key}" if path else str(key)
                if has_lone_surrogates(str(key)):
                    return inner
                pending.append((inner, item))
        elif isinstance(value, list):
            pending.extend((f"{path}[{position}]", item) for position, item in enumerate(value))
    return None


def _is_json(scope: Scope) -> bool:
    # FastAPI reads a body without a content type as JSON too.
    content_type = dict(scope.get("headers") or []).get(b"content-type", b"")
    return scope["type"] == "http" and (not content_type or b"json" in content_type.lower())


class RefuseLoneSurrogates:
    """ASGI middleware: a JSON body with a lone surrogate anywhere is answered 422 naming the field."""

    def __init__(self, app: ASGIApp, *, refuse: Callable[[LinliError], Response]) -> None:
        self._app = app
        self._refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not _is_json(scope):
            await self._app(scope, receive, send)
            return
        body, ended = await _read_body(receive)
        try:
            field = lone_surrogate_field(json.loads(body)) if body else None
        except (ValueError, RecursionError):  # not JSON, not UTF-8, too deep: the route's own parsing says so
            field = None
        if field is not None:
            await self._refuse(InvalidArgument.for_field(field, LONE_SURROGATE_MESSAGE))(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return ended or await receive()

        await self._app(scope, replay, send)


async def _read_body(receive: Receive) -> tuple[bytes, Message | None]:
    """The whole request body, and the disconnect message if the client left before sending all of it."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), message
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), None
