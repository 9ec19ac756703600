"""A small HTTP client for the running service (reload trigger, demo, benchmarks)."""

from __future__ import annotations

import os
from typing import Any

import httpx

from rollcure.core.errors import InputError

TOKEN_ENV = "ROLLCURE_API_TOKEN"


def auth_headers(token: str | None = None) -> dict[str, str]:
    """Bearer header from ``token`` or ``$ROLLCURE_API_TOKEN``; none when neither is set."""
    token = token if token is not None else os.environ.get(TOKEN_ENV)
    return {"Authorization": f"Bearer {token}"} if token else {}


def post_json(url: str, body: Any, token: str | None = None, timeout: float = 60.0) -> Any:
    """POST JSON and return the decoded answer; a 4xx/5xx becomes an InputError naming the status."""
    try:
        r = httpx.post(url, json=body, headers=auth_headers(token), timeout=timeout)
    except httpx.HTTPError as exc:
        raise InputError(f"--url: cannot reach {url} ({type(exc).__name__})") from exc
    if r.status_code >= 400:
        raise InputError(f"service: {url} answered HTTP {r.status_code}: {r.text[:200]}")
    return r.json()


def request_reload(base_url: str, token: str | None = None, force: bool = False) -> dict[str, Any]:
    """Ask the service to load the version its alias points at now (after `rollcure promote`)."""
    return post_json(base_url.rstrip("/") + "/reload", {"force": force}, token)
