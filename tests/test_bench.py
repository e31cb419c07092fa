"""The benchmark harness (bench/): its stand-in upstream, and one short end-to-end run.

Numbers are not asserted: this machine is shared and noisy, and timings belong in the
harness's output, not in pass/fail. What is asserted is what makes the comparison fair: every
variant answers every cell with the same JSON, under load, and the results are written.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO_ROOT
from live import free_port

BENCH = REPO_ROOT / "bench"


@pytest.fixture
def upstream() -> Iterator[int]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(BENCH / "upstream_server.py"), str(port), "0.2"],
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None
    assert b"upstream: 127.0.0.1" in process.stdout.readline()  # listening
    yield port
    process.terminate()
    process.wait(timeout=10)


def test_upstream_answers_pipelined_requests_after_its_delay(upstream: int) -> None:
    request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    with socket.create_connection(("127.0.0.1", upstream), timeout=10) as sock:
        started = time.monotonic()
        sock.sendall(request * 2)  # two requests on one keep-alive connection, pipelined
        received = b""
        while received.count(b"HTTP/1.1 200 OK") < 2 or not received.endswith(b"}"):
            received += sock.recv(4096)
        elapsed = time.monotonic() - started
    assert elapsed >= 0.2  # the delay is applied (a lower bound, not a speed threshold)
    head, _, rest = received.partition(b"\r\n\r\n")
    assert b"content-length: 11" in head
    assert rest.startswith(b'{"ok":true}HTTP/1.1 200 OK')


def run_harness(results: Path, *options: str) -> tuple[str, dict[str, Any]]:
    """Run the harness for one second per measurement; its output and the JSON it wrote."""
    command = [sys.executable, str(BENCH / "run.py"), "--duration=1", "--warmup=1", *options]
    result = subprocess.run(
        [*command, f"--results={results}"],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (written,) = results.glob("*.json")
    document: dict[str, Any] = json.loads(written.read_text())
    return result.stdout, document


def test_harness_runs_all_variants_on_equal_answers(tmp_path: Path) -> None:
    output, document = run_harness(tmp_path, "--runs=1", "--cells=json,up10,me")
    assert "ratios: baked/quart" in output
    table = document["table"]
    assert set(table) == {"json", "up10", "me"}
    for cell in table.values():
        for variant in ("baked", "quart", "stock"):
            assert cell[variant]["rps"] > 0, (variant, cell)
        assert cell["baked"]["errors"] == 0
    assert "baked/limit" in table["up10"]
    assert len(table["me"]["baked/quart by round"]) == 1  # one round, one ratio


def test_paired_slices_alternate_between_variants_serving_side_by_side(tmp_path: Path) -> None:
    output, document = run_harness(tmp_path, "--paired=2", "--cells=me", "--variants=baked,quart")
    assert "2 paired slices of 1 s per cell" in output
    assert "baked/quart " in output
    assert "(slices " in output
    me = document["table"]["me"]
    assert len(document["samples"]["baked"]["me"]) == 2  # one sample per slice
    assert len(me["baked/quart by round"]) == 2  # one ratio per pair of slices
    for variant in ("baked", "quart"):
        assert me[variant]["rps"] > 0, me
        assert me[variant]["errors"] == 0, me
