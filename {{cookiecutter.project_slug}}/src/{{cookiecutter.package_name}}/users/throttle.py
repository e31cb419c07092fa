"""Failed-login throttling, awaited on the event loop with the ``limits`` library.

Counters are kept per key (the web layer uses client address and username) in ``limits``'
asyncio storage: in memory per worker, or in Redis shared by every worker and instance. Only the
login route consults them, so only it pays: Flask-Limiter (built on the same ``limits`` library)
checks every request in app-wide hooks, and its storage calls are synchronous, so with Redis they
would block the event loop that serves everyone.

If the counters' storage (Redis) cannot be reached, logins are refused with 503 rather than
let through unthrottled: an attacker must not get unlimited guesses by knocking Redis over.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager

from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.aio.strategies import FixedWindowRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string


class ThrottleUnavailable(Exception):
    """The failed-login counters could not be read or updated."""


class LoginThrottle:
    """Counts failed logins per key and says how long a key must wait once over the limit."""

    def __init__(self, limit: str, storage_uri: str) -> None:
        self.limit: RateLimitItem = parse(limit)
        # ``memory://`` and ``redis://host`` name the sync storages; the ``async+`` scheme
        # selects the asyncio variant of the same storage.
        uri = storage_uri if storage_uri.startswith("async+") else f"async+{storage_uri}"
        # wrap_exceptions: every storage failure arrives as limits' StorageError.
        storage = storage_from_string(uri, wrap_exceptions=True)
        if not isinstance(storage, Storage):  # pragma: no cover - limits maps async+ to these
            raise ValueError(f"no asyncio rate-limit storage for {storage_uri!r}")
        self.limiter = FixedWindowRateLimiter(storage)

    async def retry_after(self, key: str) -> int | None:
        """Seconds until ``key`` may try again, or ``None`` while it is under the limit."""
        with _storage_errors_as_unavailable():
            if await self.limiter.test(self.limit, key):
                return None
            stats = await self.limiter.get_window_stats(self.limit, key)
        return max(1, math.ceil(stats.reset_time - time.time()))

    async def failed(self, key: str) -> None:
        """Count one failed login against ``key``."""
        with _storage_errors_as_unavailable():
            await self.limiter.hit(self.limit, key)


@contextmanager
def _storage_errors_as_unavailable() -> Iterator[None]:
    """The storage failing (Redis unreachable) becomes ThrottleUnavailable, a 503."""
    try:
        yield
    except StorageError as error:
        raise ThrottleUnavailable(str(error.storage_error)) from error
