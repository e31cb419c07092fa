"""Password hashing with argon2id, off the event loop, a bounded number at a time.

argon2-cffi's defaults are RFC 9106's low-memory profile (argon2id, 3 passes, 64 MiB, 4 lanes),
above the OWASP Password Storage Cheat Sheet's minimum (19 MiB, 2 passes). Werkzeug's default
(scrypt with N=32768) is below OWASP's table, so it is not used. A hash costs tens of
milliseconds of CPU; argon2-cffi releases the GIL while hashing, so hashing runs in a thread and
the event loop keeps serving other requests meanwhile.

The thread comes from the executor the caller passes: the user store's own small pool
(``password_hash_threads``) in a server. Memory-hard hashing is a cheap way to exhaust a
server: every hash in flight holds 64 MiB, and asyncio's default executor would run up to
``min(32, CPUs + 4)`` of them at once for anyone who sends logins. One hash already spreads over
4 threads (its lanes), so a few at a time keep the cores busy and more only add memory. The
bound also keeps the default executor, which asyncio uses for DNS lookups, free.
``executor=None`` (the CLI, short-lived stores) uses the default executor.

The parameters are argon2-cffi's defaults; :func:`use_parameters` changes them for new hashes
(a test suite uses ``argon2.profiles.CHEAPEST``, as argon2-cffi recommends for tests). Each hash
records its own parameters, so a verification costs what its hash's parameters say, and a
login with a hash made under weaker ones than today's rehashes it (:func:`needs_rehash`).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import Executor
from typing import TypeVar

from argon2 import Parameters, PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

T = TypeVar("T")

_hasher = PasswordHasher()


def use_parameters(parameters: Parameters) -> None:
    """Make and check new hashes with ``parameters`` from now on, in this process."""
    global _hasher
    _hasher = PasswordHasher.from_parameters(parameters)
    _dummy_hash.cache_clear()


async def hash_password(password: str, executor: Executor | None = None) -> str:
    return await _in_thread(executor, _hasher.hash, password)


async def verify_password(
    password_hash: str, password: str, executor: Executor | None = None
) -> bool:
    """True if ``password`` matches; a corrupt hash counts as a mismatch, never an error."""
    return await _in_thread(executor, _verify, password_hash, password)


async def waste_verification(password: str, executor: Executor | None = None) -> None:
    """Spend the time of one verification, so unknown usernames answer as slowly as known ones.

    Without it an attacker can list valid usernames by timing failed logins (OWASP
    Authentication Cheat Sheet, "Authentication Responses").
    """
    await _in_thread(executor, _verify_dummy, password)


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's defaults."""
    return _hasher.check_needs_rehash(password_hash)


async def _in_thread(executor: Executor | None, work: Callable[..., T], *args: str) -> T:
    return await asyncio.get_running_loop().run_in_executor(executor, work, *args)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _verify_dummy(password: str) -> bool:
    return _verify(_dummy_hash(), password)


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash("dummy password for timing equalisation")
