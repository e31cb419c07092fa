"""The bridge: how Flask runs on Hypercorn's event loop. A team does not normally edit it.

- :mod:`.portal`: :func:`run`, the one way sync code waits for a coroutine (no Flask here);
- :mod:`.app`: :class:`LoopFlask`, the Flask subclass that sends coroutines to ``run`` and sync
  views to a thread pool, and owns the worker's start-up and shut-down;
- :mod:`.asgi`: :class:`ASGIAdapter`, which serves a ``LoopFlask`` over ASGI, with
  :mod:`.environ` (ASGI scope to WSGI environ) and :mod:`.disconnect` (cancel on disconnect).

It imports nothing else of the service; import-linter checks that (``pyproject.toml``).
"""

from .app import LoopFlask
from .asgi import ASGIAdapter
from .portal import on_server_loop, run

__all__ = ["ASGIAdapter", "LoopFlask", "on_server_loop", "run"]
