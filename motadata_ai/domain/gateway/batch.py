"""Request batching: run many calls with bounded concurrency, results in the order given.

:func:`run_batch` is the engine of ``Gateway.generate_batch``: at most ``concurrency`` calls run
at once (workers take the next item as one finishes), each call is a whole gateway call of its
own (cached, limited, charged), and the results come back in the items' order. With
``return_exceptions`` an item that failed with an SDK error holds that error in its place and the
others go on; without it, the first error cancels the calls still running and is raised.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from motadata_ai.domain.values.arguments import check_collection
from motadata_ai.domain.values.errors import MotadataError, ValidationError

__all__ = ["MAX_CONCURRENCY", "check_concurrency", "run_batch"]

T = TypeVar("T")
R = TypeVar("R")

MAX_CONCURRENCY = 1024
"""The most calls one batch may run at once."""


def check_concurrency(concurrency: object) -> int:
    """``concurrency`` when it is an integer from 1 to :data:`MAX_CONCURRENCY`, else a ``ValidationError``."""
    if (
        isinstance(concurrency, bool)
        or not isinstance(concurrency, int)
        or not 1 <= concurrency <= MAX_CONCURRENCY
    ):
        raise ValidationError(
            f"concurrency must be an integer from 1 to {MAX_CONCURRENCY}, got {concurrency!r}",
            field="concurrency",
        )
    return concurrency


async def run_batch(
    items: Sequence[T],
    run: Callable[[T], Awaitable[R]],
    *,
    concurrency: int,
    return_exceptions: bool = False,
) -> list[R | MotadataError]:
    """``run(item)`` for every item, at most ``concurrency`` at once; results in item order (see
    the module docstring for errors)."""
    limit = check_concurrency(concurrency)
    items = check_collection("requests", items)
    results: list[R | MotadataError | None] = [None] * len(items)
    pending = iter(range(len(items)))

    async def worker() -> None:
        for index in pending:
            try:
                results[index] = await run(items[index])
            except MotadataError as error:
                if not return_exceptions:
                    raise
                results[index] = error

    workers = [asyncio.ensure_future(worker()) for _ in range(min(limit, len(items)))]
    try:
        await asyncio.gather(*workers)
    except BaseException:
        for task in workers:
            task.cancel()
        for task in workers:
            with contextlib.suppress(BaseException):
                await task
        raise
    return results  # type: ignore[return-value]  # every slot was filled
