"""Prometheus metrics, counted together across the workers of one server.

Each Hypercorn worker is a process with its own memory, and a scrape of ``/metrics`` reaches
one of them. So the counts live where every worker can read them: prometheus-client's
multiprocess mode, one memory-mapped file per worker and metric type in the directory named by
``PROMETHEUS_MULTIPROC_DIR``; a scrape answered by any worker adds up every worker's files.
:func:`multiprocess_directory` gives the launcher (``python -m <package> serve``) a fresh
directory for the server's lifetime, set before the workers start, and removes it after. A
directory the operator set is used as it is: empty it between runs, as prometheus-client asks.
Without the variable (Flask's test client, a single process), the counts live in this process.

What is measured, each a histogram (``_count`` is the number of calls, ``_sum`` their seconds):

- ``http_request_duration_seconds{method,route,status}``, with ``http_requests_total`` counting
  the same requests: from the first byte of the request to the last of the answer;
- ``store_call_duration_seconds{operation,outcome}``: every user store call, by method name
  (``outcome`` is ``ok`` or ``error``);
- ``upstream_request_duration_seconds{host,status}``: every call through the shared HTTP
  client until the answer's headers arrived (``status`` is ``error`` for a call that failed).

Labels have bounded values: URL rules rather than paths, a fixed set of methods. prometheus-client
is imported on first use, so a service with metrics off never loads it.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import structlog

if TYPE_CHECKING:
    from prometheus_client import Counter, Histogram

#: The variable prometheus-client reads to count in files shared by processes.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: Bucket bounds, in seconds, shared by every histogram here: from a fast store call to a slow
#: upstream.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: Methods that keep their own label value; any other is counted as ``OTHER``.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

_lock = threading.Lock()
_metrics: Metrics | None = None

log = structlog.get_logger(__name__)


def process_metrics() -> Metrics:
    """This process's metrics, made on first use (a metric exists once per process)."""
    global _metrics
    with _lock:
        if _metrics is None:
            _metrics = Metrics()
        return _metrics


class Metrics:
    """The service's metrics in this process; :func:`process_metrics` makes the one instance."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram, values

        self.multiprocess = MULTIPROC_ENV in os.environ
        if self.multiprocess and not getattr(values.ValueClass, "_multiprocess", False):
            # prometheus-client picks where values live when it is first imported; here it was
            # imported before the variable was set.
            values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
        elif not self.multiprocess and multiprocessing.parent_process() is not None:
            # A worker of a server that did not set the directory (Hypercorn's own runner).
            log.warning(
                f"metrics count this worker's requests only: set {MULTIPROC_ENV}, or serve "
                "with `python -m {{ cookiecutter.package_name }} serve`, which sets it"
            )
        #: In a single process, the registry scrapes read; in multiprocess mode they read the
        #: files instead, and the metrics need no registry.
        self.registry = CollectorRegistry(auto_describe=True)
        registry = None if self.multiprocess else self.registry
        http = ("method", "route", "status")
        self._requests = Counter(
            "http_requests", "HTTP requests answered.", http, registry=registry
        )
        self._durations = Histogram(
            "http_request_duration_seconds",
            "Time from a request's first byte to its answer's last.",
            http,
            buckets=BUCKETS,
            registry=registry,
        )
        self._store = Histogram(
            "store_call_duration_seconds",
            "User store calls, by method.",
            ("operation", "outcome"),
            buckets=BUCKETS,
            registry=registry,
        )
        self._upstream = Histogram(
            "upstream_request_duration_seconds",
            "Calls through the shared HTTP client, until the answer's headers arrived.",
            ("host", "status"),
            buckets=BUCKETS,
            registry=registry,
        )
        #: Label children by label values: ``labels()`` validates and locks on every call.
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self._store_children: dict[tuple[str, bool], Histogram] = {}
        self._upstream_children: dict[tuple[str, int | None], Histogram] = {}

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method if method in METHODS else "OTHER", route, status)
        try:
            counter, histogram = self._children[key]
        except KeyError:
            labels = (key[0], route, str(status))
            counter, histogram = self._requests.labels(*labels), self._durations.labels(*labels)
            self._children[key] = (counter, histogram)
        counter.inc()
        histogram.observe(seconds)

    def observe_store_call(self, operation: str, ok: bool, seconds: float) -> None:
        try:
            histogram = self._store_children[operation, ok]
        except KeyError:
            histogram = self._store.labels(operation, "ok" if ok else "error")
            self._store_children[operation, ok] = histogram
        histogram.observe(seconds)

    def observe_upstream_call(self, host: str, status: int | None, seconds: float) -> None:
        """One call to ``host`` that got ``status``, or None when it failed without one."""
        try:
            histogram = self._upstream_children[host, status]
        except KeyError:
            histogram = self._upstream.labels(host, "error" if status is None else str(status))
            self._upstream_children[host, status] = histogram
        histogram.observe(seconds)

    def render(self) -> tuple[bytes, str]:
        """The body and content type of a scrape: every worker's counts added up."""
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
        from prometheus_client.multiprocess import MultiProcessCollector

        registry: Any = self.registry
        if self.multiprocess:
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST


@contextlib.contextmanager
def multiprocess_directory(prefix: str) -> Iterator[str]:
    """Point ``PROMETHEUS_MULTIPROC_DIR`` at a fresh directory (``prefix`` + random) for as
    long as the block runs, then remove it; processes started inside inherit it. Yields the
    directory. A directory already set is kept, and left in place."""
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        yield given
        return
    directory = tempfile.mkdtemp(prefix=prefix)
    os.environ[MULTIPROC_ENV] = directory
    try:
        yield directory
    finally:
        del os.environ[MULTIPROC_ENV]
        shutil.rmtree(directory, ignore_errors=True)


def mark_process_dead(pid: int) -> None:
    """Tell the shared files that worker ``pid`` has ended (its live gauges stop counting)."""
    if MULTIPROC_ENV in os.environ:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
