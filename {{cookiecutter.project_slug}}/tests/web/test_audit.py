"""Audit events: one structured event per login attempt and logout, with who, what, how it went
and from where; no password, hash, token or cookie value in them, or in any other log line."""

from __future__ import annotations

import json
from typing import Any

import pytest

from {{ cookiecutter.package_name }} import create_app
from {{ cookiecutter.package_name }}.settings import Settings
from tests.support import PASSWORD, served, stored_password_hashes


def events(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


async def test_logins_and_logouts_are_audited_without_secrets(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    app = create_app(settings.model_copy(update={"log_format": "json"}))
    async with served(app) as client:
        wrong = await client.post(
            "/auth/login", json={"username": "alice", "password": "nope-nope"}
        )
        right = await client.post("/auth/login", json={"username": "alice", "password": PASSWORD})
        cookie = client.cookies["session"]
        out = await client.post("/auth/logout")
    assert (wrong.status_code, right.status_code, out.status_code) == (401, 200, 204)
    output = capsys.readouterr().err
    audited = [
        {key: event.get(key) for key in ("action", "outcome", "user_id", "client")}
        for event in events(output)
        if event.get("event") == "audit"
    ]
    assert audited == [
        {"action": "login", "outcome": "failure", "user_id": "unknown", "client": "127.0.0.1"},
        {"action": "login", "outcome": "success", "user_id": 1, "client": "127.0.0.1"},
        {"action": "logout", "outcome": "success", "user_id": 1, "client": "127.0.0.1"},
    ]
    secrets = [PASSWORD, "nope!", cookie]
    secrets += stored_password_hashes(settings)
    for secret in secrets:
        assert secret not in output
