"""Bearer-token auth as a plain ASGI middleware, and a log filter that keeps request data out of logs.

When the token variable is set, every path except the health probes needs
``Authorization: Bearer <token>``; otherwise the service answers 401 before any handler runs. The
token is compared in constant time and never logged.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import traceback
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

#: Probes that load balancers call without credentials; they reveal nothing but "up" / "ready".
OPEN_PATHS: frozenset[str] = frozenset({"/healthz", "/livez", "/readyz"})

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class BearerAuthMiddleware:
    """Reject requests without the right bearer token (401), unless no token is configured."""

    def __init__(
        self,
        app: Callable[..., Awaitable[None]],
        token: str | None = None,
        token_env: str | Callable[[], str] | None = None,
    ) -> None:
        """A fixed ``token``, or the name of the environment variable holding it (a callable giving the
        name is called once, when the server builds its app). The variable is read per request, so a
        rotated token takes effect without a restart."""
        self.app = app
        self._fixed = token
        self._env = token_env() if callable(token_env) else token_env

    def _current_token(self) -> bytes:
        if self._fixed is not None:
            return self._fixed.encode()
        return os.environ.get(self._env, "").encode() if self._env else b""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = self._current_token()
        if scope["type"] != "http" or not token or scope.get("path") in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        if self._authorised(scope, token):
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

    def _authorised(self, scope: Scope, token: bytes) -> bool:
        for name, value in scope.get("headers", []):
            if name.lower() == b"authorization":
                scheme, _, given = value.partition(b" ")
                return scheme.lower() == b"bearer" and hmac.compare_digest(given.strip(), token)
        return False


class RedactRequestDataFilter(logging.Filter):
    """Drop exception messages from log records: they may quote request values.

    BentoML logs every rejected request with its exception; a pydantic error's text quotes the
    offending input (``input_value=…``), and an internal error's message may hold a loan id. The
    record keeps the exception type, the field paths of a validation error, and the stack frames
    of any other error, which is what an operator needs.
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
            frames = ""
            if not callable(errors):  # an internal error: keep where it happened, not what it said
                frames = "\n" + "".join(traceback.format_tb(record.exc_info[2])).rstrip()
            record.msg = f"{record.getMessage()} ({type(exc).__name__}{where}){frames}"
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
