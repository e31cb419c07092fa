"""One baked service as another's user service, both under real Hypercorn processes on 127.0.0.1:
a SQLite *provider* with ``USERS_API_TOKEN`` set, and an ``user_store=http`` *consumer* (another
package name) pointed at it. A user made at the provider logs in through the consumer; logging
out through the consumer ends that login at the provider; with the provider stopped the consumer
fails closed (503, alive, not ready) and recovers when it is back, without a restart."""

from __future__ import annotations

import secrets
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import conftest
import httpx
import pytest
from cookiecutter.main import cookiecutter
from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from live import PASSWORD, LiveService, free_port, live_service, serve

TOKEN = secrets.token_urlsafe(32)
CONSUMER_KEY = secrets.token_urlsafe(48)


@pytest.fixture(scope="module")
def consumer_bake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template baked as an http consumer named Shop Front (package ``shop_front``)."""
    project = cookiecutter(
        str(conftest.TEMPLATE),
        no_input=True,
        output_dir=str(tmp_path_factory.mktemp("consumer")),
        default_config=True,
        extra_context={"user_store": "http", "project_name": "Shop Front"},
    )
    return Path(project)


@pytest.fixture
def provider(baked_default: Path, tmp_path: Path) -> Iterator[LiveService]:
    """The default (SQLite) bake with the users API on, holding ``alice`` (made with its CLI)."""
    (tmp_path / "provider").mkdir()
    env = {"MY_SERVICE_USERS_API_TOKEN": TOKEN}
    with live_service(baked_default, tmp_path / "provider", env) as service:
        yield service


@pytest.fixture
def consumer(consumer_bake: Path, provider: LiveService, tmp_path: Path) -> Iterator[LiveService]:
    service = tmp_path / "consumer"
    shutil.copytree(consumer_bake, service, ignore=shutil.ignore_patterns("__pycache__"))
    env = {
        "SHOP_FRONT_USER_SERVICE_URL": provider.url + "/",
        "SHOP_FRONT_USER_SERVICE_TOKEN": TOKEN,
        "SHOP_FRONT_USER_SERVICE_TIMEOUT": "2",
        "SHOP_FRONT_SECRET_KEY": CONSUMER_KEY,
        "SHOP_FRONT_SHUTDOWN_DELAY": "0",
    }
    url = f"http://127.0.0.1:{free_port()}"
    with serve(service, "shop_front", url, env, tmp_path / "consumer.log") as live:
        yield live


def provider_logins(tmp_path: Path) -> int:
    """Rows in the provider's ``logins`` table (``live_service`` puts its database here)."""
    with closing(sqlite3.connect(tmp_path / "provider" / "users.sqlite3")) as db:
        ((count,),) = db.execute("SELECT count(*) FROM logins").fetchall()
        return int(count)


def login_token(session_cookie: str) -> str:
    """The login token the consumer keeps in its signed session cookie (Flask-Login's id)."""
    app = Flask(__name__)
    app.secret_key = CONSUMER_KEY
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    assert serializer is not None
    token: str = serializer.loads(session_cookie)["_user_id"]
    return token


def provider_lookup(provider: LiveService, token: str) -> object:
    """What the provider's users API says about a login token."""
    reply = httpx.post(
        f"{provider.url}/internal/logins/lookup",
        json={"token": token},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert reply.status_code == 200, reply.text
    return reply.json()["user"]


def test_logout_through_the_consumer_ends_the_login_at_the_provider(
    provider: LiveService, consumer: LiveService, tmp_path: Path
) -> None:
    with httpx.Client(base_url=consumer.url) as client:
        login = client.post("/auth/login", json={"username": "alice", "password": PASSWORD})
        assert login.status_code == 200, consumer.output()
        assert client.get("/auth/me").json() == {"id": 1, "username": "alice"}
        captured = dict(client.cookies)
        token = login_token(captured["session"])
        assert provider_lookup(provider, token) == {"id": 1, "username": "alice"}
        assert provider_logins(tmp_path) == 1

        assert client.post("/auth/logout").status_code == 204
        assert provider_lookup(provider, token) is None
        assert provider_logins(tmp_path) == 0
        client.cookies.clear()
        client.cookies.update(captured)  # the cookie from before the logout
        assert client.get("/auth/me").status_code == 401

    assert consumer.stop() == 0, consumer.output()
    assert "Traceback" not in consumer.output() + provider.output()


def test_the_consumer_fails_closed_while_the_provider_is_down_and_recovers(
    provider: LiveService, consumer: LiveService, tmp_path: Path
) -> None:
    alice = {"username": "alice", "password": PASSWORD}
    with httpx.Client(base_url=consumer.url, timeout=30) as client:
        assert client.post("/auth/login", json=alice).status_code == 200
        assert provider.stop() == 0, provider.output()

        me = client.get("/auth/me")
        refused = client.post("/auth/login", json=alice)
        assert (me.status_code, refused.status_code) == (503, 503)
        assert me.json()["error"]["status"] == 503
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 503

        # The provider comes back on its address, with its database; the consumer runs on.
        env = {
            "MY_SERVICE_USERS_API_TOKEN": TOKEN,
            "MY_SERVICE_DATABASE_URL": f"sqlite:///{tmp_path}/provider/users.sqlite3",
            "MY_SERVICE_SECRET_KEY": secrets.token_urlsafe(48),
            "MY_SERVICE_SHUTDOWN_DELAY": "0",
        }
        service, log = tmp_path / "provider" / "service", tmp_path / "provider" / "again.log"
        with serve(service, "my_service", provider.url, env, log):
            assert client.get("/readyz").status_code == 200
            assert client.get("/auth/me").json()["username"] == "alice"
    assert "Traceback" not in consumer.output()
