"""An example async endpoint that calls another service through the shared HTTP client.

Copy this shape for your own upstream calls: the client comes from :func:`http_client` (one
``aiohttp.ClientSession`` per worker, opened at startup, pooled keep-alive connections), the
timeouts come from settings, and every failure maps to a JSON status the caller can act on: 502
when the upstream is down or answers garbage, 504 when it is too slow.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
from flask import Blueprint, Response, current_app, jsonify

from .errors import json_error
from .resources import http_client

bp = Blueprint("upstream", __name__)


@bp.get("/upstream")
async def call_upstream() -> Response:
    url: str = current_app.config["UPSTREAM_URL"]
    try:
        # Read the whole body inside the ``async with``: leaving it returns the connection to
        # the pool, and a read that times out or breaks off is an upstream failure like any other.
        async with http_client().get(url) as reply:
            status = reply.status
            body = await reply.read()
    except TimeoutError:  # aiohttp's connect and read timeouts are TimeoutErrors
        return json_error(504, "The upstream service did not answer in time.")
    except aiohttp.ClientError:
        return json_error(502, "The upstream service could not be reached.")
    if status >= 500:
        return json_error(502, "The upstream service failed.", upstream_status=status)
    try:
        payload: Any = json.loads(body)
    except ValueError:
        return json_error(502, "The upstream service did not answer with JSON.")
    return jsonify(upstream_status=status, upstream=payload)
