"""Cancel a request's task when its client disconnects before the answer is done.

Hypercorn tells the app about a disconnect only through ``receive()``; nothing stops the work.
Without this guard a login abandoned by its client still waits its turn for a password hash and
spends its CPU, and a client that times out and retries under overload doubles the load on a
server that is already behind. Cancelling reaches the coroutine the view awaits, inside the
portal, as ``asyncio.CancelledError``; the view's ``finally`` blocks and Flask's teardown run,
and queued store jobs are dropped. Quart and Django cancel the same way.

Watching costs a task per request, so the guard arms only once a request has run for
:data:`WATCH_AFTER` seconds: most requests are answered before that and never pay for it. A
disconnect that happened earlier is still seen: Hypercorn queues the message.
"""

from __future__ import annotations

import asyncio

from .environ import Receive

#: Seconds a request runs before the adapter starts watching for its client to disconnect.
WATCH_AFTER = 0.1


class DisconnectGuard:
    """Watches one request's ``receive`` and cancels its task on ``http.disconnect``."""

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._task = asyncio.current_task()
        self._loop = asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = self._loop.call_later(WATCH_AFTER, self._arm)
        self._watcher: asyncio.Task[None] | None = None
        self._cancelled = False

    def _arm(self) -> None:
        self._timer = None
        self._watcher = self._loop.create_task(self._watch())

    async def _watch(self) -> None:
        try:
            while (await self._receive())["type"] != "http.disconnect":
                pass
        except Exception:  # the server can no longer tell: leave the request be
            return
        if self._task is not None and not self._task.done():
            self._cancelled = True
            self._task.cancel("the client disconnected")

    def cancelled_request(self) -> bool:
        """True if the guard cancelled the task, and nothing else did: then it may return."""
        return self._cancelled and self._task is not None and self._task.uncancel() == 0

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._watcher is not None:
            self._watcher.cancel()
            self._watcher = None
