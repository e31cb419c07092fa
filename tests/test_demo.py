"""The README's first command: ``scripts/demo`` bakes the default service, starts it under
Hypercorn on 127.0.0.1 with a demo user, and prints how to log in. Follow its instructions."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx
from conftest import REPO_ROOT
from live import free_port


def test_demo_serves_a_working_login(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "demo.log"
    env = {**os.environ, "DEMO_PORT": str(port), "DEMO_DIR": str(tmp_path / "demo")}
    with log.open("wb") as sink:
        demo = subprocess.Popen(
            [str(REPO_ROOT / "scripts" / "demo")],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        while not (match := re.search(r"Log in as demo / (\S+)", log.read_text())):
            assert demo.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        password = match.group(1)
        url = f"http://127.0.0.1:{port}"
        assert f"open {url}/auth/login in a browser" in log.read_text()
        with httpx.Client(base_url=url) as client:
            login = client.post("/auth/login", json={"username": "demo", "password": password})
            assert login.status_code == 200, login.text
            assert client.get("/auth/me").json()["username"] == "demo"
            assert client.get("/upstream").json()["upstream"] == {"status": "ok"}
        demo.send_signal(signal.SIGINT)
        assert demo.wait(timeout=30) == 0, log.read_text()
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait()
