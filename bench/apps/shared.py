"""What the two reference apps share: request validation and the example upstream call.

Kept framework-free so that Quart and stock Flask run exactly the same code around their
frameworks, and both answer exactly what the baked service answers.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
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
        async with client.get(url) as reply:
            status = reply.status
            body = await reply.read()
    except TimeoutError:
        detail = "The upstream service did not answer in time."
        return error_body(504, "Gateway Timeout", detail), 504
    except aiohttp.ClientError:
        return error_body(502, "Bad Gateway", "The upstream service could not be reached."), 502
    if status >= 500:
        return error_body(502, "Bad Gateway", "The upstream service failed."), 502
    try:
        payload: Any = json.loads(body)
    except ValueError:
        return error_body(502, "Bad Gateway", "The upstream service did not answer with JSON."), 502
    return {"upstream_status": status, "upstream": payload}, 200
