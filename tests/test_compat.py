"""Flask's, Flask-Login's and common extensions' own test suites pass with the service's app class.

``tests/compat/compat_runner.py`` runs each suite from its sdist on stock Flask, with the baked
service's app class through the test client, and with every request served by its ASGI adapter
on a running loop (``tests/compat/README.md``). A test that passes on stock Flask must pass in
the other modes too, unless it also fails on stock Flask served through asgiref's ``WsgiToAsgi``:
then it relies on something no ASGI server carries, and is listed in a warning instead.
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

COMPAT = Path(__file__).resolve().parent / "compat"
sys.path.insert(0, str(COMPAT))
from compat_runner import format_report  # noqa: E402
from compat_suites import SUITES  # noqa: E402


@pytest.fixture(scope="module")
def compat_reports(baked_default: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every suite's report, from one run of the runner (its processes share both cores)."""
    out = tmp_path_factory.mktemp("compat")
    command = [sys.executable, str(COMPAT / "compat_runner.py")]
    result = subprocess.run(
        [*command, "--src", str(baked_default / "src"), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    report = out / "report.json"
    assert report.exists(), f"the runner failed:\n{result.stdout}\n{result.stderr}"
    return {entry["suite"]: entry for entry in json.loads(report.read_text("utf-8"))}


@pytest.mark.parametrize("suite", [suite.name for suite in SUITES])
def test_suite_passes_with_the_app_class(compat_reports: dict[str, Any], suite: str) -> None:
    report = compat_reports[suite]
    if report["problems"] or report["stock_passing"] == 0 or any(report["regressions"].values()):
        pytest.fail(format_report(report), pytrace=False)
    if report["asgi_limitations"]:
        tests = "\n  ".join(entry["test"] for entry in report["asgi_limitations"])
        warnings.warn(
            f"{suite}: {len(report['asgi_limitations'])} tests that pass on stock Flask fail"
            f" through any ASGI server (what they rely on is not carried):\n  {tests}",
            stacklevel=1,
        )
