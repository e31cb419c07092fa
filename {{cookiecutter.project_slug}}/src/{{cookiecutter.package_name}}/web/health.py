"""Liveness and readiness probes.

``/healthz`` answers while the process can serve at all (restart me if not); ``/readyz``
answers 200 only when the user store does and the worker is not shutting down, so a load
balancer stops sending traffic while the database is away or the worker drains (send me no
traffic, but do not restart me).
"""

from __future__ import annotations

import asyncio

from flask import Blueprint, Response, current_app, jsonify

from ..bridge import LoopFlask
from ..resources import current_settings, user_store
from ..users import StoreUnavailable
from .errors import json_error
from .openapi import documented
from .schemas import ErrorBody, StatusOut

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@documented(
    "Liveness: 200 while the process serves.",
    tags=("probes",),
    responses={200: ("Alive.", StatusOut)},
)
async def healthz() -> Response:
    # async although it awaits nothing: a sync view would be sent to the thread pool (it might
    # block), and the hop would cost more than the answer.
    return jsonify(status="ok")


@bp.get("/readyz")
@documented(
    "Readiness: 200 when the user store answers and the worker is not shutting down.",
    tags=("probes",),
    responses={
        200: ("Ready.", StatusOut),
        503: ("Send no traffic: the user store is away, or the worker drains.", ErrorBody),
    },
)
async def readyz() -> Response:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if isinstance(app, LoopFlask) and app.draining:
        return json_error(503, "The service is shutting down.", reason="draining")
    try:
        await asyncio.wait_for(user_store().ping(), current_settings().readiness_timeout)
    except (StoreUnavailable, TimeoutError) as error:
        return json_error(503, "The user store is not available.", reason=str(error) or "timeout")
    return jsonify(status="ready")
