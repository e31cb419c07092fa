"""Time every coroutine method of an object, such as the user store, without touching its code.

``resources.py`` wraps the store it builds when metrics are on, so the stores stay free of
metrics (and of Flask); the wrapper knows no store either: it times whatever coroutine
methods the object has, by name.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

T = TypeVar("T")

#: ``observe(method_name, ok, seconds)``: where each call's duration goes.
Observe = Callable[[str, bool, float], None]


class _Timed:
    """Forwards every attribute to the wrapped object; coroutine methods come back timed."""

    def __init__(self, target: object, observe: Observe) -> None:
        self._target = target
        self._observe = observe

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._target, name)
        if not inspect.iscoroutinefunction(attribute):
            return attribute
        observe = self._observe

        @functools.wraps(attribute)
        async def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            ok = False
            try:
                result = await attribute(*args, **kwargs)
                ok = True
                return result
            finally:
                observe(name, ok, time.perf_counter() - started)

        # Kept on the wrapper: the next lookup finds it without coming back here.
        setattr(self, name, timed)
        return timed

    def __repr__(self) -> str:
        return f"timed({self._target!r})"


def timed_calls(target: T, observe: Observe) -> T:
    """``target`` as seen through a wrapper that reports each coroutine method call's time."""
    return cast(T, _Timed(target, observe))
