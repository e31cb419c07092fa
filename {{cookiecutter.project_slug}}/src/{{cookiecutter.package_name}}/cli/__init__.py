"""``flask --app {{ cookiecutter.package_name }} ...`` commands, one module per group.

Commands are sync (click), so they reach the async store through ``bridge.run`` like any other
sync code; without a server that runs them on the bridge's background loop.
"""

from __future__ import annotations

from flask import Flask
{% if cookiecutter.user_store != "http" %}
from .db import db_cli
{%- endif %}
from .users import users_cli


def init_app(app: Flask) -> None:
{%- if cookiecutter.user_store != "http" %}
    app.cli.add_command(db_cli)
{%- endif %}
    app.cli.add_command(users_cli)
