"""The API's OpenAPI 3.1 document, written from the endpoint table and the models.

Served at ``/api/v1/openapi.json`` without a token: it says what exists, not what is in
it. Paths, methods, parameters, the role each needs, bodies and answers all come from
:data:`~.api_calls.ENDPOINTS` and the pydantic models, so the document cannot drift from
what is served.
"""

from __future__ import annotations

import json
import re
from typing import Any

import tornado.web
from pydantic import BaseModel

from scheduler.console.api import Endpoint
from scheduler.console.api_models import ErrorView

__all__ = ["OPENAPI_PATH", "OpenApiHandler", "openapi_document"]

OPENAPI_PATH = "/api/v1/openapi.json"

_REFUSALS = {
    "400": "A malformed or unfitting body, query or submission",
    "401": "No token, or one that is unknown or revoked",
    "403": "The token's grants do not cover the project and domain",
    "404": "No such execution",
    "413": "A body over FLYTE_CELERY_API_MAX_BODY",
    "429": "Too many failed sign-ins from this address",
    "503": "Redis or storage does not answer",
}


def _ref(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, str]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, nested in schema.pop("$defs", {}).items():
        schemas[name] = nested
    schemas[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _operation(endpoint: Endpoint, schemas: dict[str, Any]) -> dict[str, Any]:
    error = {"content": {"application/json": {"schema": _ref(ErrorView, schemas)}}}
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"\{(\w+)\}", endpoint.path)
    ]
    parameters += [
        {"name": name, "in": "query", "required": False, "description": text,
         "schema": {"type": "string"}}
        for name, text in endpoint.query
    ]  # fmt: skip
    operation: dict[str, Any] = {
        "summary": endpoint.summary,
        "description": f"Needs the {endpoint.role.label} role on the execution's project "
        "and domain.",
        "operationId": endpoint.run.__name__,
        "parameters": parameters,
        "responses": {
            str(endpoint.status): {
                "description": endpoint.answer.__doc__ or "",
                "content": (
                    {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
                    if endpoint.raw_answer
                    else {"application/json": {"schema": _ref(endpoint.answer, schemas)}}
                ),
            },
            **{code: {"description": text, **error} for code, text in _REFUSALS.items()},
        },
    }
    if endpoint.raw:
        operation["requestBody"] = {
            "required": True,
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    elif endpoint.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(endpoint.body, schemas)}},
        }
    return operation


def openapi_document(endpoints: list[Endpoint]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``endpoints``."""
    schemas: dict[str, Any] = {}
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = _operation(endpoint, schemas)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "flyte-celery",
            "version": "1",
            "description": "Submit, list, read, abort and signal executions. Send a token "
            "made with `flyte-celery token create` as `Authorization: Bearer <token>`.",
        },
        "paths": paths,
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"token": []}],
    }


class OpenApiHandler(tornado.web.RequestHandler):
    """Serves the document, the same for everyone."""

    def initialize(self, endpoints: list[Endpoint]) -> None:
        """Write the document once, as the handler is made."""
        self.document = json.dumps(openapi_document(endpoints))

    def get(self) -> None:
        """The document."""
        self.set_header("Content-Type", "application/json")
        self.finish(self.document)
