"""Structured logging: JSON lines for collectors in production, readable lines on a laptop.

Every event carries what is bound with ``structlog.contextvars`` (a request's ``request_id``),
its level, its logger's name and a UTC timestamp.
"""

from __future__ import annotations

import logging
import sys

import structlog
from structlog.typing import FilteringBoundLogger


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


def access_logger(name: str, log_format: str) -> FilteringBoundLogger:
    """A logger for the one event per request, the same lines as every other event's.

    It renders and writes to stderr itself: the way through the stdlib ``logging`` (a record,
    copied once more by structlog's formatter, and a search for the caller's frame) costs
    several times more, which adds up at one event per request.
    """
    logger: FilteringBoundLogger = structlog.wrap_logger(
        structlog.WriteLogger(sys.stderr),
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _renderer(log_format),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        cache_logger_on_first_use=True,
        context_class=dict,
    )
    return logger.bind(logger=name)
