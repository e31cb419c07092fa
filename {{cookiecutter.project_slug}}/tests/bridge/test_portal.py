"""The portal: sync code waits for coroutines on the loop of the task that runs it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextvars import Context, ContextVar
from typing import Any

import greenlet
import pytest

from {{ cookiecutter.package_name }}.bridge import portal
from tests.support import echo

_seen: ContextVar[str] = ContextVar("seen", default="fresh")


async def test_reused_portals_run_in_each_tasks_own_context() -> None:
    # Portals (the greenlets sync code runs in) are reused across requests. A server runs each
    # request in a task with its own context; a reused portal must see that task's context
    # variables (Flask's request context lives there), not the previous request's.
    def mark() -> tuple[str, str]:
        before = _seen.get()
        _seen.set("marked")
        portal.run(asyncio.sleep(0))  # leave the portal and come back mid-call
        return before, _seen.get()

    def fail() -> None:
        portal.run(asyncio.sleep(0))
        raise LookupError("boom")

    async def request(func: Callable[[], Any]) -> Any:
        return await portal.call_with_portal(func)

    def new_task(func: Callable[[], Any]) -> asyncio.Task[Any]:
        return asyncio.get_running_loop().create_task(request(func), context=Context())

    for _ in range(3):
        assert await new_task(mark) == ("fresh", "marked")
        with pytest.raises(LookupError, match="boom"):
            await new_task(fail)
    together = await asyncio.gather(*(new_task(mark) for _ in range(20)))
    assert together == [("fresh", "marked")] * 20
    assert _seen.get() == "fresh"  # nor did anything leak into this task


async def test_a_cancelled_call_unwinds_its_sync_code() -> None:
    # Cancelling the task (a server shutting down, a timeout around it) reaches the coroutine
    # that sync code is waiting on; the sync code's cleanup runs and the task sees the error.
    cleaned_up = asyncio.Event()
    waiting = asyncio.Event()

    def sync_code() -> None:
        try:
            portal.run(_wait_forever(waiting))
        finally:
            cleaned_up.set()

    task = asyncio.ensure_future(portal.call_with_portal(sync_code))
    await waiting.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned_up.is_set()
    # The next call still works, waits included.
    assert await portal.call_with_portal(portal.run, echo("again")) == "again"


async def test_greenlet_exit_in_sync_code_is_an_error_not_a_hang() -> None:
    def exits() -> None:
        raise greenlet.GreenletExit

    with pytest.raises(RuntimeError, match="GreenletExit"):
        await portal.call_with_portal(exits)
    assert await portal.call_with_portal(portal.run, echo("after")) == "after"


async def test_sync_code_in_its_own_greenlet_can_still_run_coroutines() -> None:
    # Libraries that run sync code in a greenlet of their own (SQLAlchemy's run_sync does)
    # nest inside the portal; run() there still waits on the request's loop.
    def in_nested_greenlet() -> str:
        nested = greenlet.greenlet(lambda: portal.run(echo("nested")))
        answer: str = nested.switch()
        return answer

    assert await portal.call_with_portal(in_nested_greenlet) == "nested"


def test_run_refuses_to_deadlock_inside_a_bare_event_loop() -> None:
    async def answer() -> int:
        return 42

    async def misuse() -> None:
        portal.run(answer())

    assert portal.run(answer()) == 42
    with pytest.raises(RuntimeError, match="await the coroutine instead"):
        asyncio.run(misuse())


async def _wait_forever(started: asyncio.Event) -> None:
    started.set()
    await asyncio.Event().wait()
