"""Password hashing with argon2id, off the event loop.

argon2-cffi's defaults are RFC 9106's low-memory profile (argon2id, 3 passes, 64 MiB, 4 lanes),
above the OWASP Password Storage Cheat Sheet's minimum (19 MiB, 2 passes). Werkzeug's default
(scrypt with N=32768) is below OWASP's table, so it is not used. A hash costs tens of
milliseconds of CPU; argon2-cffi releases the GIL while hashing, so hashing runs in a thread and
the event loop keeps serving other requests meanwhile.
"""

from __future__ import annotations

import asyncio
import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str, password: str) -> bool:
    """True if ``password`` matches; a corrupt hash counts as a mismatch, never an error."""
    return await asyncio.to_thread(_verify, password_hash, password)


async def waste_verification(password: str) -> None:
    """Spend the time of one verification, so unknown usernames answer as slowly as known ones.

    Without it an attacker can list valid usernames by timing failed logins (OWASP
    Authentication Cheat Sheet, "Authentication Responses").
    """
    await asyncio.to_thread(lambda: _verify(_dummy_hash(), password))


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's defaults."""
    return _hasher.check_needs_rehash(password_hash)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash("dummy password for timing equalisation")
