"""Bearer-token auth as a plain ASGI middleware, and a log filter that keeps request data out of logs.

When the token variable is set, every path except the health probes needs
``Authorization: Bearer <token>``; otherwise the service answers 401 before any handler runs. The
token is compared in constant time and never logged.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

#: Probes that load balancers call without credentials; they reveal nothing but "up" / "ready".
OPEN_PATHS: frozenset[str] = frozenset({"/healthz", "/livez", "/readyz"})

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class BearerAuthMiddleware:
    """Reject requests without the right bearer token (401), unless no token is configured."""

    def __init__(self, app: Callable[..., Awaitable[None]], token: str | None = None) -> None:
        self.app = app
        self._token = (token or "").encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._token or scope.get("path") in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        if self._authorised(scope):
            await self.app(scope, receive, send)
            return
        body = json.dumps({"error": "unauthorised: missing or wrong bearer token"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", b'Bearer realm="rollcure"'),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _authorised(self, scope: Scope) -> bool:
        for name, value in scope.get("headers", []):
            if name.lower() == b"authorization":
                scheme, _, given = value.partition(b" ")
                return scheme.lower() == b"bearer" and hmac.compare_digest(given.strip(), self._token)
        return False


class RedactRequestDataFilter(logging.Filter):
    """Drop tracebacks from records that would print request values (pydantic shows ``input_value``).

    BentoML logs every rejected request with its exception; a validation error's text quotes the
    offending input, which may be a loan id or an amount. The record keeps the exception type and
    the field paths, which is what an operator needs.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            where = ""
            errors = getattr(exc, "errors", None)
            if callable(errors):
                try:
                    locs = {".".join(str(p) for p in e.get("loc", ())) for e in errors()}
                    where = f" at {sorted(locs)}"
                except Exception:  # noqa: BLE001 - never let logging fail a request
                    where = ""
            record.msg = f"{record.getMessage()} ({type(exc).__name__}{where})"
            record.args = ()
            record.exc_info = None
            record.exc_text = None
        return True


def install_log_redaction(logger_names: tuple[str, ...]) -> None:
    """Attach the redaction filter once to each named logger (called at service start, not import)."""
    for name in logger_names:
        log = logging.getLogger(name)
        if not any(isinstance(f, RedactRequestDataFilter) for f in log.filters):
            log.addFilter(RedactRequestDataFilter())
