"""The session cookie keeps Flask's signing while its serializer is reused across requests and
its payload is written uncompressed."""

from __future__ import annotations

from flask import jsonify, session
from flask.sessions import SecureCookieSessionInterface
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


def test_cookies_written_compressed_before_still_open_the_session(settings: Settings) -> None:
    """Services generated earlier wrote compressed cookies (Flask's default); after an upgrade
    their users stay logged in, and the next cookie is written uncompressed."""
    app = create_app(settings)

    @app.get("/get")
    def get() -> ResponseReturnValue:
        return jsonify(n=session.get("n"))

    @app.get("/put")
    def put() -> ResponseReturnValue:
        session["n"] = "x" * 200
        return jsonify(ok=True)

    flask_default = SecureCookieSessionInterface().get_signing_serializer(app)
    assert flask_default is not None
    earlier = flask_default.dumps({"n": "x" * 200})
    assert earlier.startswith("."), "a compressed payload starts with a dot"
    client = app.test_client()
    client.set_cookie(app.config["SESSION_COOKIE_NAME"], earlier)
    assert client.get("/get").json == {"n": "x" * 200}

    client.get("/put")
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None
    assert not cookie.value.startswith(".")
    assert client.get("/get").json == {"n": "x" * 200}


def test_large_sessions_are_still_compressed(settings: Settings) -> None:
    """Only small payloads skip zlib: a session that carries more stays under 4 KB."""
    app = create_app(settings)

    @app.get("/put")
    def put() -> ResponseReturnValue:
        session["rows"] = [f"row {i}" for i in range(400)]  # ~4.4 KB of JSON
        return jsonify(ok=True)

    @app.get("/get")
    def get() -> ResponseReturnValue:
        return jsonify(rows=len(session.get("rows", [])))

    client = app.test_client()
    client.get("/put")
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None
    assert cookie.value.startswith("."), "compressed"
    assert len(cookie.value) < 4000
    assert client.get("/get").json == {"rows": 400}
