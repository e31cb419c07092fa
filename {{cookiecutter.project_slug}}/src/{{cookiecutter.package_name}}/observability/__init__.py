"""What the service tells its operators, beyond its answers: logs, metrics and traces.

- :mod:`.requests`: :class:`~.requests.RequestObserver`, the ASGI middleware that gives every
  request an id (``X-Request-ID``, bound into every log event of the request), logs one access
  event per request and counts it;
- :mod:`.metrics`: Prometheus metrics, added up across the workers of a server;
- :mod:`.calls`: times the user store's calls without changing the store;
- :mod:`.tracing`: OpenTelemetry spans, off unless ``TRACING_ENABLED``.

Nothing here imports Flask, the stores or the web layer (import-linter checks that): the web
layer tells the observer each request's route and user, and ``resources.py`` wires the metrics
into the store and the HTTP client it builds.
"""
