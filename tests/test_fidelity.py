"""Code written for Flask behaves the same under the bridge as under stock Flask.

One small app (``fidelity/fidelity_app.py``) runs twice as a real Hypercorn process on
127.0.0.1: with the baked service's app class behind its ASGI adapter, and as stock Flask in
Hypercorn's WSGI mode. Each test asks both the same questions and compares what each recorded.
Flask's test client is compared the same way, in a process of its own per mode.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from live import free_port

APP = Path(__file__).parent / "fidelity" / "fidelity_app.py"
MODES = ("bridge", "stock")


class Served:
    def __init__(self, url: str) -> None:
        self.url = url

    def get(self, path: str, **params: str) -> httpx.Response:
        return httpx.get(self.url + path, params=params, timeout=10)

    def records(self, rid: str) -> dict[str, Any]:
        found: dict[str, Any] = self.get(f"/records/{rid}").json()
        return found


def environment(baked: Path, folder: Path, mode: str) -> dict[str, str]:
    return {
        **os.environ,
        "FIDELITY_MODE": mode,
        "PYTHONPATH": os.pathsep.join([str(folder), str(baked / "src")]),
    }


@pytest.fixture(scope="module")
def servers(
    baked_default: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Served]]:
    """Both modes, each a Hypercorn process with one worker, for the whole module."""
    folder = tmp_path_factory.mktemp("fidelity")
    shutil.copy(APP, folder)
    processes: list[subprocess.Popen[bytes]] = []
    served: dict[str, Served] = {}
    try:
        for mode in MODES:
            url = f"127.0.0.1:{free_port()}"
            log = (folder / f"{mode}.log").open("wb")
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "hypercorn", "--bind", url, "fidelity_app:app"],
                    cwd=folder,
                    env=environment(baked_default, folder, mode),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
            served[mode] = Served(f"http://{url}")
            wait_until_serving(served[mode], processes[-1], folder / f"{mode}.log")
        yield served
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_until_serving(served: Served, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"hypercorn exited:\n{log.read_text()}")
        try:
            if served.get("/healthz").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    pytest.fail(f"hypercorn never answered:\n{log.read_text()}")


def each_mode(servers: dict[str, Served], ask: Any) -> dict[str, Any]:
    return {mode: ask(served) for mode, served in servers.items()}


def new_id() -> str:
    return secrets.token_hex(4)


def test_a_sync_view_its_hooks_and_teardown_share_one_thread_and_one_context(
    servers: dict[str, Served],
) -> None:
    def ask(served: Served) -> dict[str, Any]:
        rid = new_id()
        answer = served.get("/sync-context", id=rid).json()
        time.sleep(0.1)  # teardown runs after the response is sent
        records = served.records(rid)
        return {
            "before_request's thread-local, in the view": answer["before_local"] == rid,
            "the view runs in before_request's thread": answer["same_thread_as_before"],
            "the view's context variable, in after_request": records["after_var"],
            "the view's context variable, in teardown": records["teardown_var"],
            "the view's thread-local, in teardown": records["teardown_local"].get("view") == rid,
            "teardown removes the view's scoped_session": records["removed_the_views_session"],
        }

    seen = each_mode(servers, ask)
    assert seen["bridge"] == seen["stock"]
    assert seen["stock"] == {
        "before_request's thread-local, in the view": True,
        "the view runs in before_request's thread": True,
        "the view's context variable, in after_request": "set in the sync view",
        "the view's context variable, in teardown": "set in the sync view",
        "the view's thread-local, in teardown": True,
        "teardown removes the view's scoped_session": True,
    }


def test_an_async_views_hooks_share_its_context(servers: dict[str, Served]) -> None:
    def ask(served: Served) -> dict[str, Any]:
        rid = new_id()
        answer = served.get("/async-context", id=rid).json()
        time.sleep(0.1)
        records = served.records(rid)
        return {
            "in the view": answer["seen_in_view"],
            "in after_request": records["after_var"],
            "in teardown": records["teardown_var"],
        }

    seen = each_mode(servers, ask)
    expected = {
        "in the view": "set in the async before_request",
        "in after_request": "set in the async view",
        "in teardown": "set in the async view",
    }
    assert seen["bridge"] == seen["stock"] == expected


@pytest.mark.parametrize("path", ["/stream", "/stream-from-async"])
def test_a_streamed_body_arrives_chunk_by_chunk_and_blocks_no_one(
    servers: dict[str, Served], path: str
) -> None:
    def ask(served: Served) -> dict[str, Any]:
        health: list[float] = []
        streaming = threading.Event()

        def poll_health() -> None:
            while not streaming.is_set():
                time.sleep(0.01)
            while streaming.is_set():
                started = time.monotonic()
                assert served.get("/healthz").status_code == 200
                health.append(time.monotonic() - started)
                time.sleep(0.05)

        poller = threading.Thread(target=poll_health)
        poller.start()
        try:
            started = time.monotonic()
            with httpx.stream("GET", served.url + path, timeout=10) as response:
                streaming.set()
                chunks = [(chunk, time.monotonic() - started) for chunk in response.iter_text()]
        finally:
            streaming.clear()
            poller.join()
        return {
            "body": "".join(text for text, _ in chunks),
            "first chunk after": chunks[0][1],
            "slowest /healthz meanwhile": max(health),
        }

    seen = each_mode(servers, ask)
    for mode, answer in seen.items():
        assert answer["body"] == "chunk 0\nchunk 1\nchunk 2\n", mode
        assert answer["first chunk after"] < 0.3, (mode, seen)
        assert answer["slowest /healthz meanwhile"] < 0.5, (mode, seen)


def test_teardown_waits_for_a_sync_view_whose_client_went_away(
    servers: dict[str, Served],
) -> None:
    def ask(served: Served) -> dict[str, Any]:
        rid = new_id()
        host, port = served.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port))) as sock:
            sock.sendall(f"GET /slow?id={rid} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            time.sleep(0.3)  # the view is sleeping; the client gives up
        time.sleep(1.5)
        records = served.records(rid)
        return {
            "the view's resource was open to its end": records["resource_when_view_ended"],
            "teardown ran after the view": records["teardown_at"] >= records["view_ended_at"],
        }

    seen = each_mode(servers, ask)
    expected = {
        "the view's resource was open to its end": "open",
        "teardown ran after the view": True,
    }
    assert seen["bridge"] == seen["stock"] == expected


TEST_CLIENT_SCRIPT = """
import json, fidelity_app
client = fidelity_app.flask_app.test_client()
answer = client.get("/async-context?id=t").get_json()
print(json.dumps({"view": answer["seen_in_view"], **fidelity_app.RECORDS["t"]}))
"""


def test_the_test_client_carries_context_changes_as_stock_flask_does(
    baked_default: Path, tmp_path: Path
) -> None:
    shutil.copy(APP, tmp_path)
    seen = {}
    for mode in MODES:
        result = subprocess.run(
            [sys.executable, "-c", TEST_CLIENT_SCRIPT],
            cwd=tmp_path,
            env=environment(baked_default, tmp_path, mode),
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        recorded = json.loads(result.stdout.splitlines()[-1])
        seen[mode] = {key: recorded[key] for key in ("view", "after_var", "teardown_var")}
    expected = {
        "view": "set in the async before_request",
        "after_var": "set in the async view",
        "teardown_var": "set in the async view",
    }
    assert seen["bridge"] == seen["stock"] == expected
