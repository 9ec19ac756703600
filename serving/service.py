"""The BentoML service: recommend, score, explain, metadata, reload; health from the loaded bundle.

``RollcureService.__init__`` refuses to start without the API token and the case-id salt (unless
in insecure dev mode), loads the configured registry alias once (its files checked against the
digests recorded at registration), opens the decision log and installs log redaction. Two ASGI
middlewares run before BentoML reads a request: the bearer token (401, 429 after repeated
failures) and the body guard (415 unless JSON, 413 over ``serving.max_body_bytes``). The body is
``serving.request.CasesRequest``: pydantic refuses malformed, out-of-range or impossible cases, and
cases that contradict each other, with HTTP 400 and field paths before any code runs; the handlers
turn an ``as_of`` beyond the server's clock and the feature code's ``InputError`` into HTTP 422 and
oversized batches into 413.
``/recommend`` appends every decision to the durable log, and books its actions in the capacity
ledger, in one commit before it returns (``serving.ledger``); if the log cannot be written it
answers 503 and gives no decision.

Concurrent requests of one endpoint are decided together (``serving.coalesce``): one feature build,
one model pass and, for ``/recommend``, one log commit for all of them, then each gets its own
slice. Requests share a pass only when no case can be affected by the others: no shared loan or
borrower (payloads of one loan merge into one history), the same optional tables, and at most
``ModelRuntime.merge_limit`` cases (so no cycle capacity binds; only the day's ledger running
short can make pass-mates share what is left); each case's arm draw is seeded by
its own inputs. A pass uses one model, read once, so a hot swap never splits it. The handlers are
``async``: BentoML runs sync handlers one at a time on a single thread, which queued every request
behind the previous one.

Configuration comes from ``$ROLLCURE_CONFIG`` (a YAML file; defaults when unset) and
``$ROLLCURE_DATA_DIR``, read when the service starts, never at import.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Hashable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import bentoml
from bentoml.validators import ContentType
from fastapi import FastAPI
from starlette.responses import JSONResponse

from rollcure.config.serving import CONFIG_ENV, SERVICE_NAME
from rollcure.core.catalogue import ACTIONS
from rollcure.core.errors import InputError
from serving.answers import explanations, features_for, scores
from serving.auth import BearerAuthMiddleware, install_log_redaction, require_secrets
from serving.coalesce import Coalescer, split
from serving.decision_log import LogUnavailable
from serving.guard import RequestGuardMiddleware
from serving.ledger import recommend_and_book
from serving.openapi import openapi_document
from serving.request import (
    Cases,
    CasesRequest,
    ExplainRequest,
    ReloadRequest,
    ServedCase,
    clock_problems,
    merge_key,
)
from serving.schemas import CaseDecision, CaseExplanation, CaseScore, ModelMetadata, ReloadResult

if TYPE_CHECKING:
    from rollcure.config import RollcureConfig
    from serving.runtime import ModelRuntime

logger = logging.getLogger(__name__)

#: Loggers that may print request data with an exception; their tracebacks are redacted.
_REDACTED_LOGGERS = ("bentoml._internal.server.http_app", "bentoml", "uvicorn.error", __name__)

#: The requests of one merged pass, each a list of cases.
_Groups = list[list[ServedCase]]

#: Responses declared JSON up front: otherwise BentoML derives a list output's media type from its
#: JSON schema, generated anew for every response (measured with py-spy: as costly as the decision).
_JSON = ContentType("application/json")
Decisions = Annotated[list[CaseDecision], _JSON]
Scores = Annotated[list[CaseScore], _JSON]
Explanations = Annotated[list[CaseExplanation], _JSON]

info_app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)


def _load_config() -> RollcureConfig:
    from rollcure.config import load_config

    path = os.environ.get(CONFIG_ENV)
    return load_config(Path(path) if path else None)


def _error(status: int, loc: list[Any], msg: str) -> JSONResponse:
    return JSONResponse({"error": msg, "detail": [{"loc": loc, "msg": msg}]}, status_code=status)


def _merge_key(cases: Sequence[ServedCase]) -> tuple[Hashable, frozenset[tuple[str, int]]]:
    """``serving.request.merge_key`` of a request as the coalescer hands it over (a sequence)."""
    return merge_key(list(cases))


def _token_env() -> str:
    return _load_config().serving.token_env


def _auth_failures_per_minute() -> int:
    return _load_config().serving.auth_failures_per_minute


def _max_body_bytes() -> int:
    return _load_config().serving.max_body_bytes


@bentoml.service(name=SERVICE_NAME, traffic={"timeout": 60})
@bentoml.asgi_app(info_app, path="/")
class RollcureService:
    """Collections decisions over HTTP; see the module docstring."""

    def __init__(self) -> None:
        from serving.decision_log import open_configured_log, resolve_salt
        from serving.runtime import RuntimeHolder, load_runtime

        install_log_redaction(_REDACTED_LOGGERS)
        self.cfg = _load_config()
        require_secrets(os.environ, self.cfg.serving.token_env, self.cfg.serving.salt_env)
        self.salt = resolve_salt(dict(os.environ), self.cfg.serving.salt_env)
        self.log = open_configured_log(self.cfg)
        self.holder = RuntimeHolder(self.cfg, load_runtime(self.cfg))
        self._stop = threading.Event()
        plain_limit = lambda _runtime: self.cfg.serving.coalesce_max_cases  # noqa: E731
        self._recommending = self._coalescer(self._recommend_pass, self._pass_limit, "rollcure-recommend")
        self._scoring = self._coalescer(self._score_pass, plain_limit, "rollcure-score")
        self._explaining = self._coalescer(self._explain_pass, plain_limit, "rollcure-explain")
        # one queue per action: only requests about the same action can share a pass
        self._explaining_action = {
            a: self._coalescer(
                functools.partial(self._explain_pass, action=a), plain_limit, f"rollcure-explain-{a}"
            )
            for a in ACTIONS
        }
        if self.cfg.serving.reload_poll_seconds > 0:
            self.holder.watch(self.cfg.serving.reload_poll_seconds, self._stop, self._watch_failed)
        logger.info(
            "serving %s version %s", self.holder.current.model_name, self.holder.current.model_version
        )

    def _watch_failed(self, exc: Exception) -> None:
        logger.warning("model reload failed, still serving the current version (%s)", type(exc).__name__)

    def __is_alive__(self) -> bool:
        return getattr(self, "holder", None) is not None

    def __is_ready__(self) -> bool:
        return self.__is_alive__()

    @bentoml.on_shutdown
    def _close(self) -> None:
        self._stop.set()
        for coalescer in (
            self._recommending,
            self._scoring,
            self._explaining,
            *self._explaining_action.values(),
        ):
            coalescer.close()
        self.log.close()

    def _too_many(self, cases: list[ServedCase]) -> JSONResponse | None:
        limit = self.cfg.serving.max_batch_size
        if len(cases) > limit:
            return _error(413, ["cases"], f"cases: {len(cases)} cases in one request, the limit is {limit}")
        return None

    def _coalescer(self, run_pass: Any, limit: Any, name: str) -> Coalescer:
        return Coalescer(
            run_pass,
            context=lambda: self.holder.current,
            limit=limit,
            merge_key=_merge_key,
            wait_s=self.cfg.serving.coalesce_wait_ms / 1000.0,
            name=name,
        )

    def _pass_limit(self, runtime: ModelRuntime) -> int:
        return int(min(self.cfg.serving.coalesce_max_cases, runtime.merge_limit))

    def _recommend_pass(self, runtime: ModelRuntime, groups: _Groups) -> list[list[CaseDecision]]:
        """Decide the merged requests together with the capacity left today, and log them and book
        their actions in one commit before any is answered (``serving.ledger``)."""
        cases = [c for g in groups for c in g]
        X = features_for(cases, self.cfg.features)  # the request's own errors, before any lock
        try:
            decisions = recommend_and_book(runtime, self.log, cases, X, self.salt, datetime.now(UTC))
        except InputError:
            raise
        except Exception as exc:  # noqa: BLE001 - no decision leaves unless it is logged
            logger.error("decision log append failed (%s); no decision returned", type(exc).__name__)
            raise LogUnavailable from exc
        return split(decisions, [len(g) for g in groups])

    def _score_pass(self, runtime: ModelRuntime, groups: _Groups) -> list[list[CaseScore]]:
        cases = [c for g in groups for c in g]
        return split(scores(runtime, features_for(cases, self.cfg.features)), [len(g) for g in groups])

    def _explain_pass(
        self, runtime: ModelRuntime, groups: _Groups, action: str | None = None
    ) -> list[list[CaseExplanation]]:
        cases = [c for g in groups for c in g]
        X = features_for(cases, self.cfg.features)
        return split(explanations(runtime, X, action), [len(g) for g in groups])

    def _from_the_future(self, cases: list[ServedCase]) -> JSONResponse | None:
        """422 naming the first case dated beyond the server's clock (plus the configured tolerance)."""
        ahead = timedelta(hours=self.cfg.serving.as_of_ahead_hours)
        problems = list(clock_problems(cases, datetime.now(), ahead))  # naive local, as the contract
        if problems:
            path, why = problems[0]
            return _error(422, path.split("."), f"{path}: {why}")
        return None

    async def _answer(self, coalescer: Coalescer, cases: list[ServedCase]) -> Any:
        """Queue a request for the next pass; its own failure (and only its own) becomes 4xx/503."""
        if (refused := self._too_many(cases) or self._from_the_future(cases)) is not None:
            return refused
        try:
            return await coalescer.submit(cases)
        except InputError as exc:
            return _error(422, ["cases"], str(exc))
        except LogUnavailable:
            return _error(503, [], "decision log unavailable; no decision was made")

    @bentoml.api(route="/recommend", input_spec=CasesRequest)
    async def recommend(self, cases: Cases) -> Decisions:
        """The policy's decision per case (scores and reason codes until a policy is bundled)."""
        return await self._answer(self._recommending, cases)

    @bentoml.api(route="/score", input_spec=CasesRequest)
    async def score(self, cases: Cases) -> Scores:
        """Calibrated roll-forward and cure probabilities per case."""
        return await self._answer(self._scoring, cases)

    @bentoml.api(route="/explain", input_spec=ExplainRequest)
    async def explain(self, cases: Cases, action: str | None = None) -> Explanations:
        """SHAP reason codes (up and down, both targets) and every feature's contribution: of the
        calibrated scorers, or with ``action`` of the roll-forward and cure probabilities under it."""
        coalescer = self._explaining if action is None else self._explaining_action[action]
        return await self._answer(coalescer, cases)

    @bentoml.api(route="/reload", input_spec=ReloadRequest)
    def reload(self, force: bool = False) -> ReloadResult:
        """Load the version the alias points at now (after `rollcure promote`); in-flight requests
        finish on the model they started with."""
        try:
            previous, now = self.holder.reload(force=force)
        except InputError as exc:
            # BentoML sends a starlette Response as it is; the annotation is the OpenAPI schema
            return _error(409, ["alias"], str(exc))  # type: ignore[return-value]
        logger.info("model reload: %s -> %s", previous, now.model_version)
        swapped = force or previous != now.model_version
        return ReloadResult(previous_version=previous, model_version=now.model_version, swapped=swapped)

    @info_app.get("/docs.json", include_in_schema=False)
    def openapi(self) -> JSONResponse:
        """The OpenAPI document, corrected (``serving.openapi``); it takes the place of BentoML's."""
        return JSONResponse(_openapi())

    @info_app.get("/metadata", response_model=ModelMetadata)
    def metadata(self) -> ModelMetadata:
        """Model name, version, alias, feature list and config hash of what is being served."""
        rt = self.holder.current
        return ModelMetadata(
            model_name=rt.model_name,
            model_version=rt.model_version,
            alias=rt.alias,
            run_id=rt.run_id,
            features=list(rt.bundle.feature_names),
            config_hash=rt.config_hash,
            has_policy=rt.has_policy,
        )


@functools.cache
def _openapi() -> dict[str, Any]:
    return openapi_document(RollcureService.openapi_spec.asdict())  # type: ignore[attr-defined]


# added by the @bentoml.service decorator, which is typed as returning the class unchanged
# (the first added is the outermost: a request is authenticated before its body is read)
RollcureService.add_asgi_middleware(  # type: ignore[attr-defined]
    BearerAuthMiddleware, token_env=_token_env, failures_per_minute=_auth_failures_per_minute
)
RollcureService.add_asgi_middleware(RequestGuardMiddleware, max_body_bytes=_max_body_bytes)  # type: ignore[attr-defined]
