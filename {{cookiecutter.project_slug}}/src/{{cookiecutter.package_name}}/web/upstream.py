"""An example async endpoint that calls another service through the shared HTTP client.

Copy this shape for your own upstream calls: the client comes from :func:`http_client` (one
``httpx.AsyncClient`` per worker, opened at start-up, pooled keep-alive connections), the
timeouts come from settings, and :func:`get_json` turns every failure into an
:class:`UpstreamError` that ``errors.py`` answers with a JSON status the caller can act on: 502
when the upstream is down or answers garbage, 504 when it is too slow.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from ..clients.http import get_json
from ..resources import current_settings, http_client
from .openapi import documented
from .schemas import ErrorBody, UpstreamOut

bp = Blueprint("upstream", __name__)


@bp.get("/upstream")
@documented(
    "Example: call the configured upstream through the shared HTTP client.",
    tags=("example",),
    responses={
        200: ("What the upstream answered.", UpstreamOut),
        502: ("The upstream is down or answered garbage.", ErrorBody),
        504: ("The upstream was too slow.", ErrorBody),
    },
)
async def call_upstream() -> Response:
    status, payload = await get_json(http_client(), current_settings().upstream_url)
    return jsonify(upstream_status=status, upstream=payload)
