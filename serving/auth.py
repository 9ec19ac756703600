"""Bearer-token auth as a plain ASGI middleware, and a log filter that keeps request data out of logs.

When the token variable is set, every path except the health probes needs
``Authorization: Bearer <token>``; otherwise the service answers 401 before any handler runs. The
token is compared in constant time and never logged. A client address that fails more than
``serving.auth_failures_per_minute`` times within a minute gets 429 until its oldest failure is a
minute old, so a token cannot be guessed at line speed (`rollcure serve` refuses to start without
a token unless told ``--insecure-dev``).
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import time
import traceback
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from rollcure.config.serving import INSECURE_DEV_ENV
from rollcure.core.errors import InputError

#: Probes that load balancers call without credentials; they reveal nothing but "up" / "ready".
OPEN_PATHS: frozenset[str] = frozenset({"/healthz", "/livez", "/readyz"})
#: The window of the failed-authentication limit, in seconds.
AUTH_WINDOW_S = 60.0

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def insecure_dev(env: MutableMapping[str, str]) -> bool:
    """True when the operator said, in so many words, that this is a local demo without secrets."""
    return env.get(INSECURE_DEV_ENV, "").strip().lower() in ("1", "true", "yes")


def require_secrets(env: MutableMapping[str, str], token_env: str, salt_env: str) -> None:
    """Refuse to serve without the API token and the case-id salt, unless in insecure dev mode.

    Without a token every endpoint (``/reload`` included) is open; without a salt the audit log's
    case hashes are keyed by a salt printed in the source, so they reverse to loan ids by counting.
    """
    missing = [name for name in (token_env, salt_env) if not env.get(name)]
    if not missing:
        return
    if insecure_dev(env):
        logger.warning("INSECURE DEV MODE: %s not set; never expose this service", " and ".join(missing))
        return
    raise InputError(
        f"{' and '.join(missing)} not set: the service needs a bearer token and a case-id salt "
        f"(e.g. `openssl rand -hex 16`); for a local demo only, pass --insecure-dev ({INSECURE_DEV_ENV}=1)"
    )


class BearerAuthMiddleware:
    """Reject requests without the right bearer token (401), unless no token is configured."""

    def __init__(
        self,
        app: Callable[..., Awaitable[None]],
        token: str | None = None,
        token_env: str | Callable[[], str] | None = None,
        failures_per_minute: int | Callable[[], int] = 30,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """A fixed ``token``, or the name of the environment variable holding it (a callable giving the
        name is called once, when the server builds its app). The variable is read per request, so a
        rotated token takes effect without a restart. ``failures_per_minute`` (or a callable giving
        it) bounds failed attempts per client address."""
        self.app = app
        self._fixed = token
        self._env = token_env() if callable(token_env) else token_env
        self._limit = failures_per_minute() if callable(failures_per_minute) else failures_per_minute
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def _current_token(self) -> bytes:
        if self._fixed is not None:
            return self._fixed.encode()
        return os.environ.get(self._env, "").encode() if self._env else b""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = self._current_token()
        if scope["type"] != "http" or not token or scope.get("path") in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        client = str((scope.get("client") or ("?",))[0])
        recent = self._recent_failures(client)
        if len(recent) >= self._limit:
            retry = max(1, int(recent[0] + AUTH_WINDOW_S - self._clock()) + 1)
            msg = "too many failed authentications from this address; retry later"
            await _send_json(send, 429, {"error": msg}, [(b"retry-after", str(retry).encode())])
            return
        if self._authorised(scope, token):
            await self.app(scope, receive, send)
            return
        recent.append(self._clock())
        msg = "unauthorised: missing or wrong bearer token"
        await _send_json(send, 401, {"error": msg}, [(b"www-authenticate", b'Bearer realm="rollcure"')])

    def _recent_failures(self, client: str) -> deque[float]:
        """The client's failures within the window (older ones dropped; idle clients forgotten)."""
        now = self._clock()
        for key in [k for k, q in self._failures.items() if not q or q[-1] < now - AUTH_WINDOW_S]:
            del self._failures[key]
        recent = self._failures.setdefault(client, deque())
        while recent and recent[0] < now - AUTH_WINDOW_S:
            recent.popleft()
        return recent

    def _authorised(self, scope: Scope, token: bytes) -> bool:
        for name, value in scope.get("headers", []):
            if name.lower() == b"authorization":
                scheme, _, given = value.partition(b" ")
                return scheme.lower() == b"bearer" and hmac.compare_digest(given.strip(), token)
        return False


async def _send_json(send: Send, status: int, payload: dict[str, Any], headers: list) -> None:
    body = json.dumps(payload).encode()
    base = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": base + headers})
    await send({"type": "http.response.body", "body": body})


#: pydantic error types whose last ``loc`` element is a key the client chose (not a declared field).
_CLIENT_KEY_ERRORS = frozenset({"extra_forbidden"})


def _field_paths(errors: list[dict[str, Any]]) -> list[str]:
    """Declared field paths of validation errors; a key the client made up is shown as ``<extra>``."""
    paths = set()
    for e in errors:
        loc = [str(p) for p in e.get("loc", ())]
        if e.get("type") in _CLIENT_KEY_ERRORS and loc:
            loc[-1] = "<extra>"
        paths.add(".".join(loc))
    return sorted(paths)


class RedactRequestDataFilter(logging.Filter):
    """Drop exception messages from log records: they may quote request values.

    BentoML logs every rejected request with its exception; a pydantic error's text quotes the
    offending input (``input_value=…``), and an internal error's message may hold a loan id. The
    record keeps the exception type, the field paths of a validation error (a key the client made
    up shows as ``<extra>``: a name or phone number sent as a key must not land in the log), and
    the stack frames of any other error, which is what an operator needs. A validation error is the
    client's mistake, not the service's: it is logged at INFO, not ERROR.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            where = ""
            errors = getattr(exc, "errors", None)
            if callable(errors):
                try:
                    where = f" at {_field_paths(errors())}"
                except Exception:  # noqa: BLE001 - never let logging fail a request
                    where = ""
                record.levelno, record.levelname = logging.INFO, logging.getLevelName(logging.INFO)
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
