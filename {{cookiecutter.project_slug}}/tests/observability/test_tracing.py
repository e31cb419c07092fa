"""OpenTelemetry tracing with the SDK's in-memory exporter: a request is a server span, each
call it makes through the shared client a client span in the same trace, from an async view
and from a sync one; the caller's ``traceparent`` is followed. Off by default; on without the
``tracing`` extra, the settings refuse it in one line that names the fix."""

from __future__ import annotations

import sys

import pytest
from flask import jsonify
from flask.typing import ResponseReturnValue
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from pydantic import ValidationError

from {{ cookiecutter.package_name }} import create_app, launcher
from {{ cookiecutter.package_name }}.bridge import run
from {{ cookiecutter.package_name }}.clients.http import get_json
from {{ cookiecutter.package_name }}.resources import Resources, current_settings, http_client
from {{ cookiecutter.package_name }}.settings import ENV_PREFIX, Settings
from tests.support import served

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


@pytest.mark.parametrize("route", ["/upstream", "/test/sync"])
async def test_a_request_and_its_upstream_call_are_one_trace(
    settings: Settings, upstream: str, monkeypatch: pytest.MonkeyPatch, route: str
) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")  # only the exporter below
    app = create_app(
        settings.model_copy(update={"tracing_enabled": True, "upstream_url": f"{upstream}/"})
    )

    @app.get("/test/sync")
    def sync_view() -> ResponseReturnValue:
        status, _ = run(get_json(http_client(), current_settings().upstream_url))
        return jsonify(upstream_status=status)

    tracing = Resources.of(app).tracing
    assert tracing is not None
    exporter = InMemorySpanExporter()
    tracing.provider.add_span_processor(SimpleSpanProcessor(exporter))
    traceparent = f"00-{TRACE_ID}-{PARENT_ID}-01"
    async with served(app) as client:
        response = await client.get(route, headers={"traceparent": traceparent})
    assert response.status_code == 200, response.text

    spans = exporter.get_finished_spans()
    (server,) = [s for s in spans if s.kind is SpanKind.SERVER]
    (outgoing,) = [s for s in spans if s.kind is SpanKind.CLIENT]
    assert server.name == f"GET {route}"
    assert server.context is not None
    assert outgoing.context is not None
    assert server.parent is not None
    assert outgoing.parent is not None
    assert format(server.context.trace_id, "032x") == TRACE_ID  # the caller's trace
    assert format(server.parent.span_id, "016x") == PARENT_ID
    assert outgoing.context.trace_id == server.context.trace_id
    assert outgoing.parent.span_id == server.context.span_id
    assert dict(server.attributes or {})["http.route"] == route


def test_tracing_is_off_by_default(settings: Settings) -> None:
    assert not settings.tracing_enabled
    app = create_app(settings)
    assert Resources.of(app).tracing is None
    assert not hasattr(app, "_original_wsgi_app")  # what the Flask instrumentation leaves


def test_tracing_without_the_extra_is_refused_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.instrumentation.flask", None)  # not there
    fix = r"pip install '{{ cookiecutter.project_slug }}\[tracing\]'"
    with pytest.raises(ValidationError, match=fix):
        Settings.model_validate({"tracing_enabled": True})

    monkeypatch.setenv(f"{ENV_PREFIX}TRACING_ENABLED", "true")
    assert launcher.main(["serve"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("error: not starting: tracing_enabled: ")
    assert "the tracing extra" in line
