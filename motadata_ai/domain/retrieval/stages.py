"""Stages: run the steps of a pipeline concurrently and fail as one when any step fails.

:func:`run_stages` starts each coroutine as a task and waits for all of them; the first one to
raise cancels the others (after they are cancelled it re-raises that first error itself, never
an ``ExceptionGroup``, so a caller sees the SDK error a step raised). :class:`Handoff` is the
bounded queue between two steps: ``put`` waits while it is full (back-pressure), and ``close``
tells the consumer that nothing more will come.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from typing import Any, Generic, TypeVar

T = TypeVar("T")

__all__ = ["Handoff", "run_stages"]

_CLOSED: Any = object()


class Handoff(Generic[T]):
    """A bounded queue from one pipeline step to the next (``maxsize`` items in flight at most)."""

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self._queue: asyncio.Queue[Any] = asyncio.Queue(maxsize)

    async def put(self, item: T) -> None:
        """Hand ``item`` on, waiting while the queue is full."""
        await self._queue.put(item)

    async def close(self) -> None:
        """No more items: the consumer's iteration ends after the ones queued."""
        await self._queue.put(_CLOSED)

    def __aiter__(self) -> AsyncIterator[T]:
        return self._items()

    async def _items(self) -> AsyncIterator[T]:
        while True:
            item = await self._queue.get()
            if item is _CLOSED:
                return
            yield item


async def run_stages(*stages: Coroutine[Any, Any, None]) -> None:
    """Run ``stages`` concurrently until all finish; on the first failure cancel the rest and raise it."""
    tasks = [asyncio.ensure_future(stage) for stage in stages]
    try:
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    except BaseException:  # the caller was cancelled: so are the stages
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    failed = next((t for t in tasks if t in done and not t.cancelled() and t.exception() is not None), None)
    if failed is None:
        return
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    error = failed.exception()
    assert error is not None
    raise error
