"""The ASGI entrypoint: ``hypercorn --config hypercorn.toml {{ cookiecutter.package_name }}.asgi:app``.

Hypercorn imports this module once per worker process; each worker gets its own app, its own
event loop and its own shared clients, opened by the lifespan startup event.
"""

from __future__ import annotations

from .app import create_app
from .bridge import ASGIAdapter

app = ASGIAdapter(create_app())
