"""The ASGI entrypoint: ``hypercorn --config hypercorn.toml {{ cookiecutter.package_name }}.asgi:app``.

Hypercorn imports this module once per worker process; each worker gets its own app, its own
event loop and its own shared clients, opened by the lifespan startup event.
"""

from __future__ import annotations

from .app import asgi_app, create_app

#: The Flask app; ``app`` below is what Hypercorn serves.
flask_app = create_app()
app = asgi_app(flask_app)
