"""OpenTelemetry tracing, off unless ``TRACING_ENABLED``; it needs the ``tracing`` extra.

On, each request gets a server span (OpenTelemetry's Flask instrumentation) and each call
through the shared HTTP client a client span (its httpx instrumentation) in the same trace,
with the ``traceparent`` header passed on upstream and taken from the caller. The Flask
instrumentation wraps ``app.wsgi_app`` and adds a ``before_request`` and a ``teardown_request``
function; the bridge calls ``wsgi_app`` and runs both hooks in the request's own context (its
task for an async view, its thread for a sync one), so the span is current wherever the
request's code runs, coroutines it awaits included.

Everything else is OpenTelemetry's standard environment variables, read by its SDK:
``OTEL_SERVICE_NAME`` (default: the package name), ``OTEL_RESOURCE_ATTRIBUTES``,
``OTEL_TRACES_SAMPLER`` and ``OTEL_TRACES_SAMPLER_ARG``, ``OTEL_EXPORTER_OTLP_ENDPOINT`` and
``OTEL_EXPORTER_OTLP_HEADERS`` (OTLP over HTTP). ``OTEL_TRACES_EXPORTER`` picks the exporter:
``otlp`` (the default), ``console`` or ``none``. The probes and ``/metrics`` are not traced
unless ``OTEL_PYTHON_FLASK_EXCLUDED_URLS`` says otherwise.

OpenTelemetry is imported only here, and only when tracing is on; the settings refuse
``TRACING_ENABLED`` when the extra is not installed.
"""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

#: Requests not traced unless ``OTEL_PYTHON_FLASK_EXCLUDED_URLS`` is set: probes and scrapes.
EXCLUDED_URLS = "/healthz,/readyz,/metrics"


class Tracing:
    """One app's tracer provider and exporter; instruments the app and its HTTP clients."""

    def __init__(self, service_name: str) -> None:
        from opentelemetry import trace
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

        resource = Resource.create()  # OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES
        if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
            resource = resource.merge(Resource({SERVICE_NAME: service_name}))
        self.provider: TracerProvider = TracerProvider(resource=resource)
        exporter = os.environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower()
        if exporter == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            self.provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        elif exporter == "console":
            self.provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
        elif exporter != "none":
            raise ValueError(f"OTEL_TRACES_EXPORTER={exporter!r}: use otlp, console or none")
        if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
            # The first app of the process provides the tracer the service's own code gets
            # from trace.get_tracer(__name__).
            trace.set_tracer_provider(self.provider)

    def instrument_app(self, app: Any) -> None:
        """Give each request of the Flask ``app`` a server span."""
        from opentelemetry.instrumentation.flask import FlaskInstrumentor

        excluded = os.environ.get("OTEL_PYTHON_FLASK_EXCLUDED_URLS", EXCLUDED_URLS)
        FlaskInstrumentor.instrument_app(  # type: ignore[no-untyped-call]
            app, tracer_provider=self.provider, excluded_urls=excluded
        )

    def instrument_client(self, client: Any) -> None:
        """Give each call through the httpx ``client`` a client span."""
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

        HTTPXClientInstrumentor.instrument_client(client, tracer_provider=self.provider)

    async def shutdown(self) -> None:
        """Export what is left and stop the exporter (an ``after_serving`` function)."""
        await asyncio.to_thread(self.provider.shutdown)
