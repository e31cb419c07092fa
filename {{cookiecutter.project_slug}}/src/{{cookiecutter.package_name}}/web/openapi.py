"""The service's HTTP API as an OpenAPI 3.1 document, made from the views' own pydantic models.

A view says what it takes and what it answers with :func:`documented`; the models are the ones
the view validates with, so the document cannot drift from the code. :func:`build` walks the
app's URL map and turns every documented view into an operation; views without it (the HTML
login form, internal APIs) stay out. ``GET /openapi.json`` publishes the document; in
development ``GET /docs`` shows it as a page.

Every operation also lists the errors any request can meet on this service: a body over the
size limit (413) and, for state-changing methods, a browser's cross-site request (403); each
error body is :class:`~.schemas.ErrorBody`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import Any, TypeVar

from flask import Blueprint, Flask, Response, abort, current_app, jsonify, render_template
from pydantic import BaseModel
from werkzeug.routing import Rule

from ..resources import current_settings
from .schemas import ErrorBody

F = TypeVar("F", bound=Callable[..., Any])
#: What an operation may answer: status -> (description, body model or None for no body).
Responses = dict[int, tuple[str, type[BaseModel] | None]]

_ATTRIBUTE = "__openapi_operation__"
TITLE = {{ cookiecutter.project_name | tojson }}
DISTRIBUTION = "{{ cookiecutter.project_slug }}"
_COMMON: Responses = {413: ("The request body is over the size limit.", ErrorBody)}
_STATE_CHANGING: Responses = {403: ("A browser's cross-site request.", ErrorBody)}

bp = Blueprint("openapi", __name__)


@dataclass(frozen=True)
class Operation:
    summary: str
    responses: Responses
    body: type[BaseModel] | None = None
    tags: tuple[str, ...] = ()
    security: tuple[str, ...] = ()


def documented(
    summary: str,
    *,
    responses: Responses,
    body: type[BaseModel] | None = None,
    tags: tuple[str, ...] = (),
    security: tuple[str, ...] = (),
) -> Callable[[F], F]:
    """Describe a view for the OpenAPI document: its request ``body`` and its ``responses``.

    ``security`` names the schemes of ``components.securitySchemes`` that it accepts.
    """

    def describe(view: F) -> F:
        setattr(view, _ATTRIBUTE, Operation(summary, responses, body, tags, security))
        return view

    return describe


def build(app: Flask) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``app``'s documented views."""
    schemas: dict[str, Any] = {}
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda rule: rule.rule):
        operation = _operation_of(app.view_functions.get(rule.endpoint))
        if operation is None:
            continue
        methods = sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
        for method in methods:
            entry = _entry(operation, method, rule, schemas)
            paths.setdefault(_path(rule), {})[method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": _version()},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": _cookie_name(app)},
                "bearer": {"type": "http", "scheme": "bearer"},
            },
        },
    }


def _operation_of(view: Callable[..., Any] | None) -> Operation | None:
    """The description on ``view`` or on any function it wraps (``login_required``...)."""
    while view is not None:
        if (operation := getattr(view, _ATTRIBUTE, None)) is not None:
            return operation  # type: ignore[no-any-return]
        view = getattr(view, "__wrapped__", None)
    return None


def _entry(
    operation: Operation, method: str, rule: Rule, schemas: dict[str, Any]
) -> dict[str, Any]:
    responses = {**_COMMON, **operation.responses}
    if method not in ("GET", "HEAD"):
        responses = {**_STATE_CHANGING, **responses}
    entry: dict[str, Any] = {
        "summary": operation.summary,
        "operationId": f"{method.lower()}_{rule.endpoint.replace('.', '_')}",
        "responses": {
            str(status): _response(description, model, schemas)
            for status, (description, model) in sorted(responses.items())
        },
    }
    if operation.tags:
        entry["tags"] = list(operation.tags)
    if operation.security:
        entry["security"] = [{scheme: []} for scheme in operation.security]
    if parameters := _parameters(rule):
        entry["parameters"] = parameters
    if operation.body is not None:
        schema = _schema(operation.body, schemas)
        entry["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {"schema": schema},
                "application/x-www-form-urlencoded": {"schema": schema},
            },
        }
    return entry


def _response(
    description: str, model: type[BaseModel] | None, schemas: dict[str, Any]
) -> dict[str, Any]:
    if model is None:
        return {"description": description}
    content = {"application/json": {"schema": _schema(model, schemas)}}
    return {"description": description, "content": content}


def _schema(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, Any]:
    """A ``$ref`` to ``model``, whose schema (and those it uses) join ``schemas``."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(schema.pop("$defs", {}))
    schemas[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


_CONVERTER = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")
_TYPES = {"int": {"type": "integer"}, "float": {"type": "number"}}


def _path(rule: Rule) -> str:
    return _CONVERTER.sub(lambda match: "{" + match.group(2) + "}", rule.rule)


def _parameters(rule: Rule) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": _TYPES.get(converter or "", {"type": "string"}),
        }
        for converter, name in _CONVERTER.findall(rule.rule)
    ]


def _version() -> str:
    """The installed distribution's version; running from a checkout, a marker saying so."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "0+source"


def _cookie_name(app: Flask) -> str:
    name: str = app.config["SESSION_COOKIE_NAME"]
    return name


@bp.get("/openapi.json")
def openapi_document() -> Response:
    return jsonify(build(current_app))


@bp.get("/docs")
def docs_page() -> str:
    """The document as a page, in development only: production serves the JSON alone."""
    if current_settings().is_production:
        abort(404)
    document = build(current_app)
    return render_template("api_docs.html", document=document, paths=document["paths"])


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
