"""Body limits and media types checked before BentoML reads a request, as a plain ASGI middleware.

BentoML parses the whole body (and for ``multipart/form-data`` tries to build the input model from
form fields, which failed with HTTP 500) before a handler can look at it: a 28 MB body took 2.4 s
and 300 MiB of worker memory before its 413, and stalled the health probes meanwhile. Here a
request with a body must be JSON (else 415), and the body is counted as it arrives and refused
with 413 once it passes ``serving.max_body_bytes`` (at once when ``Content-Length`` says so), so
no oversized body is ever held whole or parsed. The body read is handed on unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from serving.auth import Receive, Scope, Send

#: The only media type the API reads (a missing Content-Type is read as JSON, as BentoML does).
JSON_MEDIA_TYPE = "application/json"
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


async def send_error(send: Send, status: int, loc: list[str], msg: str, headers: list | None = None) -> None:
    """A JSON error in the service's shape (``error`` plus ``detail[].loc``) straight onto the wire."""
    body = json.dumps({"error": msg, "detail": [{"loc": loc, "msg": msg}]}).encode()
    start_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": start_headers + (headers or [])})
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value)
    return None


def media_type_problem(scope: Scope) -> str | None:
    """Why a request's declared media type is refused, or None when it is JSON (or not given)."""
    given = _header(scope, b"content-type")
    if given is None:
        return None
    media = given.split(b";", 1)[0].strip().lower().decode("latin-1")
    if media == JSON_MEDIA_TYPE:
        return None
    return f"content-type {media or '(empty)'!r} is not supported; send {JSON_MEDIA_TYPE}"


class RequestGuardMiddleware:
    """415 for bodies that are not JSON, 413 for bodies over the limit, before the app reads them."""

    def __init__(self, app: Callable[..., Any], max_body_bytes: int | Callable[[], int]) -> None:
        """``max_body_bytes``: the limit, or a callable giving it (called once, when the app is built)."""
        self.app = app
        self.limit = max_body_bytes() if callable(max_body_bytes) else max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        if (problem := media_type_problem(scope)) is not None:
            await send_error(send, 415, ["header", "content-type"], problem)
            return
        length = _header(scope, b"content-length")
        if length is not None and length.strip().isdigit() and int(length) > self.limit:
            await send_error(send, 413, ["body"], self._too_large())
            return
        body, more = bytearray(), True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.limit:
                await send_error(send, 413, ["body"], self._too_large())
                return
        await self.app(scope, _replay(bytes(body), receive), send)

    def _too_large(self) -> str:
        return f"body: larger than serving.max_body_bytes ({self.limit} bytes)"


def _replay(body: bytes, upstream: Receive) -> Receive:
    """A ``receive`` that hands the app the body already read, then the client's own messages
    (a disconnect)."""
    sent = False

    async def receive() -> Any:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await upstream()

    return receive
