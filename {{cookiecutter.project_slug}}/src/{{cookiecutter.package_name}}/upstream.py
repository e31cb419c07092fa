"""An example async endpoint that calls another service through the shared HTTP client.

Copy this shape for your own upstream calls: the client comes from :func:`http_client` (one per
worker, opened at startup, pooled keep-alive connections), the timeouts come from settings,
and every failure maps to a JSON status the caller can act on: 502 when the upstream is down
or answers garbage, 504 when it is too slow.
"""

from __future__ import annotations

from typing import Any

import httpx2
from flask import Blueprint, Response, current_app, jsonify

from .errors import json_error
from .resources import http_client

bp = Blueprint("upstream", __name__)


@bp.get("/upstream")
async def call_upstream() -> Response:
    url: str = current_app.config["UPSTREAM_URL"]
    try:
        reply = await http_client().get(url)
    except httpx2.TimeoutException:
        return json_error(504, "The upstream service did not answer in time.")
    except httpx2.HTTPError:
        return json_error(502, "The upstream service could not be reached.")
    if reply.status_code >= 500:
        return json_error(502, "The upstream service failed.", upstream_status=reply.status_code)
    try:
        payload: Any = reply.json()
    except ValueError:
        return json_error(502, "The upstream service did not answer with JSON.")
    return jsonify(upstream_status=reply.status_code, upstream=payload)
