"""What the two reference apps share: request validation and the example upstream call.

Kept framework-free so that Quart and stock Flask run exactly the same code around their
frameworks, and both answer exactly what the baked service answers.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import aiohttp
from my_service.http_client import UpstreamError, get_json
from my_service.security import fill_security_headers
from pydantic import BaseModel, Field
from werkzeug.datastructures import Headers


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=150)
    password: str = Field(min_length=1, max_length=1024)
    remember: bool = False


def add_security_headers(headers: Headers, path: str) -> None:
    """The headers the baked service adds to every response, by its own code (both frameworks
    use Werkzeug's ``Headers``); plain HTTP here, as in the bench, so no HSTS."""
    fill_security_headers(headers, on_auth=path.startswith("/auth"), https=False)


def error_body(status: int, title: str, detail: str) -> dict[str, Any]:
    return {"error": {"status": status, "title": title, "detail": detail}}


async def fetch_upstream(client: aiohttp.ClientSession, url: str) -> tuple[dict[str, Any], int]:
    """The baked ``GET /upstream``: the upstream's JSON, or 502/504 as a JSON error."""
    try:
        status, payload = await get_json(client, url)
    except UpstreamError as error:
        body = error_body(error.status, HTTPStatus(error.status).phrase, error.detail)
        body["error"].update(error.extra)
        return body, error.status
    return {"upstream_status": status, "upstream": payload}, 200
