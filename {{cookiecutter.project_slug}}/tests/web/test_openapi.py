"""``/openapi.json``: the API described from the views' own models; ``/docs`` in development."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from {{ cookiecutter.package_name }} import create_app
from {{ cookiecutter.package_name }}.web.schemas import ErrorBody, LoginRequest, UserOut
from tests.support import login, make_settings, served


async def test_the_document_describes_every_public_operation(client: httpx.AsyncClient) -> None:
    document: dict[str, Any] = (await client.get("/openapi.json")).json()
    assert document["openapi"] == "3.1.0"
    operations = {
        (method.upper(), path) for path, item in document["paths"].items() for method in item
    }
    assert {
        ("GET", "/auth/login"),
        ("POST", "/auth/login"),
        ("POST", "/auth/logout"),
        ("GET", "/auth/me"),
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/upstream"),
    } <= operations
    login_operation = document["paths"]["/auth/login"]["post"]
    schema = login_operation["requestBody"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/LoginRequest"}
    # The very model the view validates with, limits included.
    assert document["components"]["schemas"]["LoginRequest"] == LoginRequest.model_json_schema()
    assert {"200", "401", "422", "429", "503", "403", "413"} <= set(login_operation["responses"])
    me = document["paths"]["/auth/me"]["get"]
    assert me["security"] == [{"session": []}, {"bearer": []}]


async def test_answers_match_their_documented_models(client: httpx.AsyncClient) -> None:
    assert ErrorBody.model_validate((await client.get("/auth/me")).json())
    await login(client)
    assert UserOut.model_validate((await client.get("/auth/me")).json())


async def test_the_docs_page_is_for_development_only(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert "POST /auth/login" in page.text
    production = make_settings(
        tmp_path, env="production", secret_key="Zx8-" + "q7Lm2Vr9Tk4Wb6Ns" * 3
    )
    async with served(create_app(production)) as prod:
        hidden = await prod.get("/docs")
        published = await prod.get("/openapi.json")
    assert hidden.status_code == 404
    assert hidden.json()["error"]["status"] == 404
    assert published.status_code == 200
