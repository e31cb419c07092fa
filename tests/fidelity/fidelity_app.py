"""One small Flask app, written the way Flask's docs write apps, for tests/test_fidelity.py.

``FIDELITY_MODE=bridge`` serves it with the generated service's app class behind its ASGI adapter
(the baked package on ``PYTHONPATH``); ``FIDELITY_MODE=stock`` serves stock ``flask.Flask`` in
Hypercorn's WSGI mode. Either way ``app`` is what Hypercorn imports. Each request passes an
``id``; what its hooks, view and teardown saw is kept per id and read back from ``/records/<id>``.
"""

from __future__ import annotations

import contextvars
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Flask, Response, g, jsonify, request
from sqlalchemy import create_engine
from sqlalchemy.orm import scoped_session, sessionmaker

MODE = os.environ.get("FIDELITY_MODE", "stock")
if MODE == "bridge":
    from my_service.bridge import ASGIAdapter, LoopFlask

    flask_app: Flask = LoopFlask(__name__)
else:
    flask_app = Flask(__name__)

var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
local = threading.local()
# Flask's documented "SQLAlchemy in Flask" pattern: one session per thread, removed at teardown.
db_session = scoped_session(sessionmaker(bind=create_engine("sqlite://")))
RECORDS: dict[str, dict[str, Any]] = {}


def record(**values: Any) -> None:
    RECORDS.setdefault(request.args.get("id", ""), {}).update(values)


@flask_app.before_request
def before() -> None:
    local.before = request.args.get("id")
    g.before_thread = threading.get_ident()


@flask_app.after_request
def after(response: Response) -> Response:
    record(after_var=var.get())
    return response


@flask_app.teardown_request
def teardown(error: BaseException | None) -> None:
    values: dict[str, Any] = {"teardown_var": var.get(), "teardown_local": local.__dict__.copy()}
    if "session_id" in g:
        values["removed_the_views_session"] = id(db_session()) == g.session_id
    if "resource" in g:
        g.resource = "closed"
        values["teardown_at"] = time.monotonic()
    db_session.remove()
    record(**values)


@flask_app.get("/healthz")
def healthz() -> str:
    return "ok"


@flask_app.get("/sync-context")
def sync_context() -> Response:
    var.set("set in the sync view")
    local.view = request.args.get("id")
    g.session_id = id(db_session())
    same_thread = g.before_thread == threading.get_ident()
    return jsonify(before_local=local.before, same_thread_as_before=same_thread)


@flask_app.get("/slow")
def slow() -> str:
    g.resource = "open"
    time.sleep(1)
    record(resource_when_view_ended=g.resource, view_ended_at=time.monotonic())
    return "done"


def three_chunks() -> Iterator[str]:
    for n in range(3):
        if n:
            time.sleep(1)  # blocking work between chunks: a cursor, a file, a computation
        yield f"chunk {n}\n"


@flask_app.get("/stream")
def stream() -> Response:
    return Response(three_chunks(), mimetype="text/plain")


@flask_app.get("/stream-from-async")
async def stream_from_async() -> Response:
    return Response(three_chunks(), mimetype="text/plain")


@flask_app.get("/records/<rid>")
def records(rid: str) -> Response:
    return jsonify(RECORDS.get(rid, {}))


async_views = Blueprint("async_views", __name__)


@async_views.before_request
async def async_before() -> None:
    var.set("set in the async before_request")


@async_views.get("/async-context")
async def async_context() -> Response:
    seen = var.get()
    var.set("set in the async view")
    return jsonify(seen_in_view=seen)


flask_app.register_blueprint(async_views)

app: Any = ASGIAdapter(flask_app) if MODE == "bridge" else flask_app
