"""Passwords: stored as argon2id hashes, computed a bounded number at a time, and never for a
login whose client has gone. (Stores that hash here; the HTTP store leaves it to the user
service.)"""

from __future__ import annotations

import asyncio
import json
import threading

import argon2
import httpx
import pytest
from asgi_lifespan import LifespanManager

from {{ cookiecutter.package_name }} import create_app
from {{ cookiecutter.package_name }}.bridge import ASGIAdapter
from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.users import passwords
from tests.store import query
from tests.support import PASSWORD, abandoned_request, login


def test_passwords_are_stored_as_argon2id(real_hashes: None, settings: Settings) -> None:
    ((stored,),) = query(settings, "SELECT password_hash FROM users")
    # RFC 9106's low-memory profile, argon2-cffi's default: 64 MiB, 3 passes, 4 lanes.
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert PASSWORD not in stored


async def test_a_login_rehashes_a_password_hashed_with_weaker_parameters(
    settings: Settings, client: httpx.AsyncClient
) -> None:
    """A hash made under older, weaker parameters (here: the tests' cheapest) is replaced at
    the user's next login, once the password is known to be right."""
    ((weak,),) = query(settings, "SELECT password_hash FROM users")
    assert weak.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    passwords.use_parameters(argon2.profiles.get_default_parameters())
    try:
        assert (await login(client)).status_code == 200
    finally:
        passwords.use_parameters(argon2.profiles.CHEAPEST)
    ((stronger,),) = query(settings, "SELECT password_hash FROM users")
    assert stronger.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert (await login(client)).status_code == 200  # the new hash checks the same password


async def test_a_burst_of_logins_hashes_a_bounded_number_at_a_time(
    real_hashes: None,
    client: httpx.AsyncClient,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each argon2id hash in flight holds 64 MiB: however many logins arrive at once, no more
    than ``password_hash_threads`` are hashed at a time, so their memory stays bounded."""
    lock = threading.Lock()
    running, most_at_once, threads = 0, 0, set()
    verify = passwords._verify

    def counted(password_hash: str, password: str) -> bool:
        nonlocal running, most_at_once
        with lock:
            running += 1
            most_at_once = max(most_at_once, running)
            threads.add(threading.current_thread().name)
        try:
            return verify(password_hash, password)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(passwords, "_verify", counted)
    answers = await asyncio.gather(*(login(client) for _ in range(8)))
    assert [answer.status_code for answer in answers] == [200] * 8
    assert most_at_once == settings.password_hash_threads == 2
    assert all(name.startswith("password-hash") for name in threads)


async def test_logins_abandoned_by_their_clients_are_not_hashed(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client that gives up on its login (a timeout, a closed tab) costs no argon2 hash.

    Each hash costs tens of milliseconds of CPU; logins queue for the few hash threads, and
    under a burst the clients at the back of the queue give up first. Their requests are
    cancelled, so their hashes are never started: only those already running finish.
    """
    loop = asyncio.get_running_loop()
    release, all_busy = threading.Event(), asyncio.Event()
    hashed: list[str] = []
    verify = passwords._verify

    def held(password_hash: str, password: str) -> bool:
        hashed.append(threading.current_thread().name)
        if len(hashed) == settings.password_hash_threads:
            loop.call_soon_threadsafe(all_busy.set)
        release.wait(timeout=30)
        return verify(password_hash, password)

    monkeypatch.setattr(passwords, "_verify", held)
    body = json.dumps({"username": "alice", "password": PASSWORD}).encode()
    gone = asyncio.Event()
    async with LifespanManager(ASGIAdapter(create_app(settings))) as manager:
        try:
            abandoned = [
                asyncio.ensure_future(
                    abandoned_request(manager.app, "POST", "/auth/login", gone, body)
                )
                for _ in range(8)
            ]
            await asyncio.wait_for(all_busy.wait(), timeout=10)
            gone.set()
            answers = await asyncio.wait_for(asyncio.gather(*abandoned), timeout=10)
        finally:
            release.set()
        assert answers == [[]] * 8  # nothing was sent to the clients that left
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            assert (await login(client)).status_code == 200
    assert len(hashed) == settings.password_hash_threads + 1
