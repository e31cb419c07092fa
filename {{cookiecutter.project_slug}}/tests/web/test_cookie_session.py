"""The session cookie keeps Flask's signing while its serializer is reused across requests."""

from __future__ import annotations

from flask import jsonify, session
from flask.typing import ResponseReturnValue

from {{ cookiecutter.package_name }} import create_app
from {{ cookiecutter.package_name }}.settings import Settings


def test_key_rotation_takes_effect_at_once(settings: Settings) -> None:
    app = create_app(settings)

    @app.get("/put")
    def put() -> ResponseReturnValue:
        session["n"] = 1
        return jsonify(ok=True)

    @app.get("/get")
    def get() -> ResponseReturnValue:
        return jsonify(n=session.get("n"))

    client = app.test_client()
    client.get("/put")
    assert client.get("/get").json == {"n": 1}
    old_key = app.config["SECRET_KEY"]

    # A new key: cookies signed with the old one are no longer trusted...
    app.config["SECRET_KEY"] = "a-new-key-" + "x" * 40
    assert client.get("/get").json == {"n": None}
    # ...unless the old key is kept as a fallback while clients move over.
    app.config["SECRET_KEY_FALLBACKS"] = [old_key]
    assert client.get("/get").json == {"n": 1}
    # And a tampered cookie is refused whatever the keys.
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None
    # One base64 character of the payload changed: every bit of it counts (the signature's
    # last character does not, so rewriting it could leave the cookie valid by chance).
    value = cookie.value
    client.set_cookie(cookie.key, value[:5] + ("B" if value[5] == "A" else "A") + value[6:])
    assert client.get("/get").json == {"n": None}
