"""The published API description, held to what it says: ``/openapi.json`` of a live baked service
is a valid OpenAPI 3.1 document, and schemathesis' generated requests against it (more than a
thousand) get no 5xx and no answer outside the documented statuses and schemas."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from live import PASSWORD, LiveService, free_port, live_service
from openapi_spec_validator import validate

SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")


@pytest.fixture(scope="module")
def live(baked_default: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    port = free_port()
    # The example /upstream calls the service's own probe, so that it answers 200.
    env = {"MY_SERVICE_UPSTREAM_URL": f"http://127.0.0.1:{port}/healthz"}
    with live_service(baked_default, tmp_path_factory.mktemp("openapi"), env, port=port) as live:
        yield live


def test_the_document_is_valid_openapi_3_1(live: LiveService) -> None:
    document: dict[str, Any] = httpx.get(f"{live.url}/openapi.json").json()
    validate(document)
    assert document["openapi"] == "3.1.0"
    assert {"/auth/login", "/auth/logout", "/auth/me", "/healthz", "/readyz"} <= set(
        document["paths"]
    )


def test_generated_requests_meet_the_document(live: LiveService, tmp_path: Path) -> None:
    login = httpx.post(f"{live.url}/auth/login", json={"username": "alice", "password": PASSWORD})
    cookie = login.cookies["session"]
    har = tmp_path / "requests.har"
    result = subprocess.run(
        [SCHEMATHESIS, "run", f"{live.url}/openapi.json", "--checks", "all",
         "--max-examples", "150", "--seed", "1", "-H", f"Cookie: session={cookie}",
         "--report", "har", "--report-har-path", str(har)],
        capture_output=True, text=True, timeout=600, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    entries = json.loads(har.read_text())["log"]["entries"]
    statuses = [entry["response"]["status"] for entry in entries]
    assert len(statuses) >= 1000
    assert not [status for status in statuses if status >= 500]
    print(f"schemathesis: {len(statuses)} requests, statuses {sorted(set(statuses))}")
