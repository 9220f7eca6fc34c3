"""The sync facade: ``motadata_ai.connect_sync()`` for scripts and notebooks.

The async core runs unchanged on a private event loop in a daemon thread; every call made
through the facade is submitted to that loop and waited for, so it works from plain scripts and
from code that already runs an event loop (Jupyter, an ``async def`` that must call a sync
library). Use-case objects come back wrapped the same way (``ai.rag("acme").query(...)``,
``ai.gateway.generate(...)``), async iterators as plain iterators (``ai.gateway.stream(...)``),
values (responses, reports, settings) as they are.

    with motadata_ai.connect_sync() as ai:
        ai.rag("acme").ingest("examples/knowledge_base")
        print(ai.query("How do I reset my password?", tenant_id="acme").answer)
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

if TYPE_CHECKING:
    from motadata_ai.api import AI
    from motadata_ai.settings import Settings

__all__ = ["SyncAI", "connect_sync"]

T = TypeVar("T")


class _Loop:
    """An event loop running forever in a daemon thread of its own."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="motadata-ai-sync", daemon=True)
        self._thread.start()

    def run(self, awaitable: Awaitable[T]) -> T:
        """Run ``awaitable`` on the private loop and wait for its result (its error is raised
        here). Called from the loop's own thread (a callback of the SDK), it would wait for
        itself: that is refused."""
        if threading.current_thread() is self._thread:
            raise RuntimeError("a sync SDK call made from inside the SDK's own loop would wait forever")

        async def wrapped() -> T:
            return await awaitable

        future: Future[T] = asyncio.run_coroutine_threadsafe(wrapped(), self.loop)
        try:
            return future.result()
        except KeyboardInterrupt:
            future.cancel()
            raise

    def iterate(self, iterator: AsyncIterator[Any]) -> Iterator[Any]:
        """The items of an async iterator, each fetched on the private loop."""
        done = object()

        async def step() -> Any:
            try:
                return await iterator.__anext__()
            except StopAsyncIteration:
                return done

        try:
            while (item := self.run(step())) is not done:
                yield _wrap(item, self)
        finally:
            close = getattr(iterator, "aclose", None)
            if close is not None and self.loop.is_running():
                self.run(close())

    def stop(self) -> None:
        """Stop the loop and its thread."""
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)
        if not self.loop.is_running():
            self.loop.close()


def _is_value(obj: Any) -> bool:
    """Values come back as they are; SDK objects with behaviour come back wrapped."""
    if obj is None or isinstance(obj, str | bytes | int | float | bool | BaseModel | BaseException | type):
        return True
    module = type(obj).__module__ or ""
    if not module.startswith("motadata_ai."):
        return True
    return bool(getattr(type(obj), "__dataclass_fields__", None)) and not any(
        inspect.iscoroutinefunction(getattr(type(obj), name, None)) for name in dir(type(obj))
    )


def _wrap(obj: Any, loop: _Loop) -> Any:
    if isinstance(obj, AsyncIterator):
        return loop.iterate(obj)
    if _is_value(obj):
        return obj
    return SyncProxy(obj, loop)


class SyncProxy:
    """A sync view of one SDK object: its coroutine methods block until done, its async
    iterators become iterators, its use-case attributes are sync views too."""

    def __init__(self, target: Any, loop: _Loop) -> None:
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_loop", loop)

    @property
    def wrapped(self) -> Any:
        """The async object behind this view."""
        return self._target

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if callable(value) and not isinstance(value, type):
            return self._sync(value)
        return _wrap(value, self._loop)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._target, name, value)

    def _sync(self, function: Callable[..., Any]) -> Callable[..., Any]:
        loop = self._loop

        def call(*args: Any, **kwargs: Any) -> Any:
            args = tuple(a.wrapped if isinstance(a, SyncProxy) else a for a in args)
            kwargs = {k: v.wrapped if isinstance(v, SyncProxy) else v for k, v in kwargs.items()}
            if inspect.iscoroutinefunction(function):
                return _wrap(loop.run(function(*args, **kwargs)), loop)
            result = function(*args, **kwargs)
            if inspect.isawaitable(result):
                result = loop.run(result)
            return _wrap(result, loop)

        call.__name__ = getattr(function, "__name__", "call")
        call.__doc__ = getattr(function, "__doc__", None)
        return call

    def __repr__(self) -> str:
        return f"<sync {self._target!r}>"


class SyncAI(SyncProxy):
    """A connected SDK for sync code: ``ai.gateway``, ``ai.rag(tenant)``, ``ai.agent(tenant)``,
    ``ai.ml(tenant)``, ``ai.query(...)`` as in :class:`~motadata_ai.api.AI`, each call blocking
    until done. Close it with ``close()`` or a ``with`` block."""

    def __init__(self, ai: AI, loop: _Loop, stack: contextlib.AsyncExitStack) -> None:
        super().__init__(ai, loop)
        object.__setattr__(self, "_stack", stack)
        object.__setattr__(self, "_closed", False)

    def close(self) -> None:
        """Stop every adapter (as leaving ``connect()`` does) and the private loop."""
        if self._closed:
            return
        object.__setattr__(self, "_closed", True)
        try:
            self._loop.run(self._stack.aclose())
        finally:
            self._loop.stop()

    def __enter__(self) -> SyncAI:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect_sync(settings: Settings | None = None, **options: Any) -> SyncAI:
    """:func:`motadata_ai.connect` for sync code: the same options, the SDK started on a private
    event loop in a thread; returns a :class:`SyncAI` (use it in a ``with`` block, or call
    ``close()``)."""
    from motadata_ai.api import connect

    loop = _Loop()
    stack = contextlib.AsyncExitStack()
    try:
        ai = loop.run(stack.enter_async_context(connect(settings, **options)))
    except BaseException:
        loop.stop()
        raise
    return SyncAI(ai, loop, stack)
