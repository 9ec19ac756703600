"""Bearer auth middleware and log redaction, on a bare Starlette app (no model needed)."""

from __future__ import annotations

import logging

import pytest
from fixtures_serving import TestClient
from pydantic import BaseModel, Field, ValidationError
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from serving.auth import BearerAuthMiddleware, RedactRequestDataFilter, install_log_redaction


def _app(token: str | None = None, token_env: str | None = None) -> Starlette:
    async def ok(_request):
        return PlainTextResponse("ok")

    paths = ("/healthz", "/readyz", "/metadata", "/recommend")
    routes = [Route(p, ok, methods=["GET", "POST"]) for p in paths]
    app = Starlette(routes=routes)
    app.add_middleware(BearerAuthMiddleware, token=token, token_env=token_env)
    return app


@pytest.mark.parametrize("path", ["/metadata", "/recommend"])
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret"}, {"Authorization": "s3cret"}],
)
def test_protected_paths_need_the_token(path, headers):
    with TestClient(_app("s3cret")) as c:
        r = c.post(path, headers=headers)
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert "s3cret" not in r.text


def test_right_token_passes_and_probes_are_open():
    with TestClient(_app("s3cret")) as c:
        assert c.get("/metadata", headers={"Authorization": "Bearer s3cret"}).text == "ok"
        assert c.get("/metadata", headers={"authorization": "bearer s3cret"}).status_code == 200
        assert c.get("/healthz").status_code == 200
        assert c.get("/readyz").status_code == 200


def test_token_from_the_environment_is_read_per_request(monkeypatch):
    monkeypatch.delenv("TEST_TOKEN", raising=False)
    with TestClient(_app(token_env=lambda: "TEST_TOKEN")) as c:
        assert c.get("/metadata").status_code == 200  # unset: open
        monkeypatch.setenv("TEST_TOKEN", "first")
        assert c.get("/metadata").status_code == 401
        assert c.get("/metadata", headers={"Authorization": "Bearer first"}).status_code == 200
        monkeypatch.setenv("TEST_TOKEN", "rotated")
        assert c.get("/metadata", headers={"Authorization": "Bearer first"}).status_code == 401
        assert c.get("/metadata", headers={"Authorization": "Bearer rotated"}).status_code == 200


def test_no_token_configured_means_open():
    with TestClient(_app(None)) as c:
        assert c.get("/metadata").status_code == 200


class _Case(BaseModel):
    loan_id: int
    amount: float = Field(ge=0)


def test_redaction_drops_input_values_but_keeps_field_paths(caplog):
    name = "rollcure.test.redaction"
    install_log_redaction((name,))
    install_log_redaction((name,))  # idempotent
    assert sum(isinstance(f, RedactRequestDataFilter) for f in logging.getLogger(name).filters) == 1
    try:
        _Case.model_validate({"loan_id": 987654321, "amount": -123456.5})
    except ValidationError:
        with caplog.at_level(logging.INFO, logger=name):  # a client's error is logged at INFO
            logging.getLogger(name).exception("Exception on %s [%s]", "/recommend", "POST")
    assert [r.levelno for r in caplog.records] == [logging.INFO]
    text = caplog.text
    assert "987654321" not in text and "123456.5" not in text
    assert "ValidationError" in text and "amount" in text and "/recommend" in text
