"""The OpenAPI document as the service really behaves: version 3.1, every status, the bearer scheme.

BentoML 1.4 generates the document from the request and response models but declares OpenAPI
3.0.2 while writing 3.1 schemas (``{"type": "null"}`` for nullables, which schema validators such as
schemathesis then refuse), lists its error ``detail`` as a string where the service sends a list of
``{loc, msg}``, and knows nothing of the statuses our middleware and handlers answer (401, 413,
415, 422, 429, 503) nor of the bearer token. This module rewrites BentoML's document once, when it
is first asked for; the statuses are declared here, next to what raises them.
"""

from __future__ import annotations

import copy
from typing import Any

from serving.auth import OPEN_PATHS

#: The error body every 4xx/5xx of the service has (``serving.service._error``, ``serving.guard``,
#: BentoML's validation errors): a message and the field paths it is about.
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Error",
    "required": ["error"],
    "properties": {
        "error": {"type": "string", "title": "Message"},
        "detail": {
            "type": "array",
            "title": "Field errors",
            "items": {
                "type": "object",
                "required": ["loc", "msg"],
                "properties": {
                    "loc": {"type": "array", "items": {"type": ["string", "integer"]}},
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
}

#: What each status means, wherever it is answered.
STATUS_TEXT: dict[int, str] = {
    400: "Malformed or invalid input: detail[].loc names each field",
    401: "Missing or wrong bearer token",
    409: "The alias points at no loadable version (or its artifact fails its digest check)",
    413: "Body over serving.max_body_bytes, or more cases than serving.max_batch_size",
    415: "Body not sent as application/json",
    422: "Well-formed but inconsistent input (e.g. as_of after the server's clock, no cycle at as_of)",
    429: "Too many failed authentications from this address",
    503: "The decision log cannot be written: no decision was made",
}
#: The statuses each API answers besides 200 (GETs of the info app only need the token).
_CASES = (400, 401, 413, 415, 422, 429)
API_STATUSES: dict[str, tuple[int, ...]] = {
    "/recommend": (*_CASES, 503),
    "/score": _CASES,
    "/explain": _CASES,
    "/reload": (400, 401, 409, 413, 415, 429),
    "/metadata": (401, 429),
}
#: BentoML's own error schemas, corrected to the body actually sent.
_BENTOML_ERRORS = ("InvalidArgument", "NotFound", "InternalServerError")
SECURITY_SCHEME = "bearerAuth"


def openapi_document(generated: dict[str, Any]) -> dict[str, Any]:
    """BentoML's generated document (``Service.openapi_spec.asdict()``), corrected (a copy)."""
    doc = copy.deepcopy(generated)
    doc["openapi"] = "3.1.0"
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["Error"] = ERROR_SCHEMA
    for name in _BENTOML_ERRORS:
        if name in schemas:
            schemas[name] = {
                **ERROR_SCHEMA,
                "title": name,
                "description": schemas[name].get("description", ""),
            }
    components["securitySchemes"] = {
        SECURITY_SCHEME: {"type": "http", "scheme": "bearer", "description": "ROLLCURE_API_TOKEN"}
    }
    doc["security"] = [{SECURITY_SCHEME: []}]
    for path, item in doc.get("paths", {}).items():
        for op in item.values():
            if not isinstance(op, dict):
                continue
            op["responses"] = {str(code): r for code, r in op.get("responses", {}).items()}
            op["responses"].pop("404", None)  # a declared route is never "not found"
            if path in OPEN_PATHS:
                op["security"] = []
            for code in API_STATUSES.get(path, ()):
                op["responses"][str(code)] = {
                    "description": STATUS_TEXT[code],
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                }
    return doc
