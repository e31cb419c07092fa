"""The service package; ``create_app`` builds its Flask app (see ``app.py``)."""

from .app import create_app

__all__ = ["create_app"]
