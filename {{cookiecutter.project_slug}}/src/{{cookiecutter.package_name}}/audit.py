"""Audit events: one structured log event per security-relevant action, for whoever reviews
who did what. The web layer and the CLI emit them.

Each event has ``action`` (``login``, ``logout``, ...), ``outcome`` (``success``, ``failure``,
``refused``, ``unavailable``), ``user_id`` (or ``"unknown"``), the client address and, bound by
the request's logging context, its request id. An event never carries a password, a password
hash, a token or a cookie value: callers pass only these fields, and :func:`audit` accepts no
others.
"""

from __future__ import annotations

from typing import Literal

import structlog
from flask import has_request_context, request

Outcome = Literal["success", "failure", "refused", "unavailable"]

log = structlog.get_logger("audit")


def audit(action: str, outcome: Outcome, *, user_id: int | None = None) -> None:
    """Log one audit event for the current request."""
    log.info(
        "audit",
        action=action,
        outcome=outcome,
        user_id=user_id if user_id is not None else "unknown",
        client=request.remote_addr if has_request_context() else None,
    )
