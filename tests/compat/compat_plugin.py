"""A pytest plugin that runs a Flask (or Flask extension) test suite against another app class.

Loaded into the suite's own pytest with ``-p compat_plugin`` (tests/compat/ on PYTHONPATH) and
set up by environment variables, which ``compat_runner.py`` sets:

``COMPAT_MODE``
    ``stock``: stock Flask through Werkzeug's test client (the baseline);
    ``class``: the app class in place of ``flask.Flask``, through the test client;
    ``asgi``: the app class, every test-client request served by the ASGI adapter on a loop;
    ``asgi-ref``: stock Flask, every request served by asgiref's ``WsgiToAsgi`` on a loop, to
    tell what fails through any ASGI round trip from what fails through this adapter.
``COMPAT_APP_CLASS``, ``COMPAT_ADAPTER``
    ``module:attribute`` of the app class and of the ASGI adapter (called with the app).
``COMPAT_OUTCOMES``
    Where to write the per-test outcomes as JSON at the end of the session.

The class is swapped when this module is imported, before the suite's conftest and test
modules import Flask, so ``from flask import Flask`` gets it. Every app built during a test is
checked: a test that built any other class fails, so a suite cannot quietly test stock Flask.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import compat_asgi
import flask
import flask.app
import pytest

MODES = ("stock", "class", "asgi", "asgi-ref")
MODE = os.environ.get("COMPAT_MODE", "")
if MODE not in MODES:
    raise pytest.UsageError(f"COMPAT_MODE must be one of {MODES}, not {MODE!r}")


def load(spec: str) -> Any:
    """``package.module:attribute`` -> the attribute."""
    module, _, attribute = spec.partition(":")
    return getattr(importlib.import_module(module), attribute)


STOCK: type[flask.Flask] = flask.app.Flask
EXPECTED: type[flask.Flask] = STOCK
if MODE in ("class", "asgi"):
    EXPECTED = load(os.environ["COMPAT_APP_CLASS"])
    if not (isinstance(EXPECTED, type) and issubclass(EXPECTED, STOCK)):
        raise pytest.UsageError(f"{EXPECTED!r} is not a subclass of flask.Flask")
    flask.Flask = flask.app.Flask = EXPECTED  # type: ignore[misc]
if MODE == "asgi":
    compat_asgi.install(load(os.environ["COMPAT_ADAPTER"]))
elif MODE == "asgi-ref":
    from asgiref.wsgi import WsgiToAsgi

    compat_asgi.install(WsgiToAsgi)

#: The class of every app built in this process, in order (stock Flask's __init__ records it).
built: list[type] = []
_stock_init = STOCK.__init__


def _recording_init(self: flask.Flask, *args: Any, **kwargs: Any) -> None:
    built.append(type(self))
    _stock_init(self, *args, **kwargs)


STOCK.__init__ = _recording_init  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def _compat_app_class_guard() -> Iterator[None]:
    """Fail a test that built an app of another class than the one under test."""
    first = len(built)
    yield
    wrong = sorted({cls.__qualname__ for cls in built[first:] if not issubclass(cls, EXPECTED)})
    assert not wrong, f"the test built {wrong}, not {EXPECTED.__qualname__} apps"


outcomes: dict[str, dict[str, str]] = {}


def _message(report: pytest.CollectReport | pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr)
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return (lines[0] if lines else "")[:300]


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.failed:
        outcomes[report.nodeid] = {"outcome": "collect-error", "message": _message(report)}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    entry = outcomes.setdefault(report.nodeid, {"outcome": "passed", "message": ""})
    if entry["outcome"] != "passed":  # the first problem of a test is the one to tell
        return
    if report.failed:
        entry["outcome"] = "failed" if report.when == "call" else "error"
        entry["message"] = _message(report)
    elif report.skipped:
        entry["outcome"] = "xfailed" if hasattr(report, "wasxfail") else "skipped"
        entry["message"] = _message(report)
    elif report.when == "call" and hasattr(report, "wasxfail"):
        entry["outcome"] = "xpassed"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    summary = {
        "mode": MODE,
        "app_class": f"{EXPECTED.__module__}.{EXPECTED.__qualname__}",
        "apps_built": sum(issubclass(cls, EXPECTED) for cls in built),
        "asgi_requests": compat_asgi.served,
        "exitstatus": int(exitstatus),
        "outcomes": outcomes,
    }
    Path(os.environ["COMPAT_OUTCOMES"]).write_text(json.dumps(summary, indent=1), "utf-8")
