"""Structured logging: JSON lines for collectors in production, readable lines on a laptop.

Every event carries what is bound with ``structlog.contextvars`` (a request's ``request_id``),
its level, its logger's name and a UTC timestamp.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TextIO

import structlog


def _renderer(log_format: str) -> structlog.types.Processor:
    if log_format == "json":
        return structlog.processors.JSONRenderer()
    return structlog.dev.ConsoleRenderer(colors=False)


def configure_logging(log_format: str, *, debug: bool = False) -> None:
    """Route structlog and the stdlib ``logging`` (Flask, Hypercorn, SQLAlchemy) to stderr."""
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer = _renderer(log_format)
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    # Hypercorn writes its error log through a handler of its own (hypercorn.toml); its
    # logger also propagates here, which would print every line twice.
    handler.addFilter(lambda record: not record.name.startswith("hypercorn."))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    # httpx logs every call at INFO, URL and all; upstream failures reach the logs as errors.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.DEBUG if debug else logging.WARNING)


class AccessLogger:
    """The logger of the one event per request: the same line as every other event's.

    Each line has ``event``, ``level``, ``logger``, ``timestamp`` and what is bound with
    ``structlog.contextvars`` (``request_id``), rendered as the other events are (JSON or the
    console renderer). It builds the event and writes it itself: one dict, one JSON encoder made
    once, one write. There is one per request: the same event costs a fifth to a half more through
    a structlog logger (its processor chain, a ``json.dumps`` that makes an encoder per call)
    and several times more through the stdlib ``logging``.

    Its ``info(event, **fields)`` is structlog's, so any structlog logger can stand in for it.
    """

    __slots__ = ("_render", "_stream", "name")

    def __init__(self, name: str, log_format: str, stream: TextIO | None = None) -> None:
        self.name = name
        #: Looked up now, as structlog's ``WriteLogger`` does; tests that capture stderr
        #: build the logger while capturing.
        self._stream = stream if stream is not None else sys.stderr
        if log_format == "json":
            self._render: Callable[[dict[str, Any]], str] = _JSON.encode
        else:
            console = structlog.dev.ConsoleRenderer(colors=False)
            self._render = lambda event: str(console(None, "info", event))

    def info(self, event: str, **fields: Any) -> None:
        """Write one ``info`` event with ``fields`` and the context's bound values."""
        line: dict[str, Any] = {
            "event": event,
            "level": "info",
            "logger": self.name,
            "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        }
        line.update(fields)
        for key, value in structlog.contextvars.get_contextvars().items():
            line.setdefault(key, value)
        self._stream.write(self._render(line) + "\n")
        self._stream.flush()


#: A bound value JSON cannot encode becomes its ``repr``, as structlog's renderer makes it.
_JSON = json.JSONEncoder(default=repr)
