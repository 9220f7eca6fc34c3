"""``bert.drain_passes``: every pass once, on at most the threads asked, errors raised."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from motadata_ai.adapters.local.bert import drain_passes


@pytest.mark.parametrize("caller_drains", [True, False])
def test_every_pass_runs_once_on_at_most_the_threads_asked(caller_drains: bool) -> None:
    passes = [[i, i + 100] for i in range(40)]
    seen: list[tuple[int, str]] = []
    lock = threading.Lock()

    def run(chosen: list[int]) -> None:
        time.sleep(0.001)  # long enough that the threads take turns
        with lock:
            seen.append((chosen[0], threading.current_thread().name))

    with ThreadPoolExecutor(4, thread_name_prefix="helper") as pool:
        drain_passes(passes, run, pool=pool, threads=3, caller_drains=caller_drains)
    assert sorted(first for first, _ in seen) == list(range(40))
    names = {name for _, name in seen}
    assert len(names) <= 3
    assert (threading.current_thread().name in names) is caller_drains
    assert len(names) > 1  # forty sleeping passes on three threads: more than one took some


def test_without_a_pool_the_caller_runs_every_pass_even_when_it_would_not_drain() -> None:
    seen: list[str] = []
    drain_passes(
        [[0], [1], [2]],
        lambda _: seen.append(threading.current_thread().name),
        pool=None,
        threads=4,
        caller_drains=False,
    )
    assert seen == [threading.current_thread().name] * 3


def test_a_failing_pass_is_raised_to_the_caller() -> None:
    def run(chosen: list[int]) -> None:
        if chosen == [7]:
            raise RuntimeError("pass 7 failed")

    with ThreadPoolExecutor(2) as pool, pytest.raises(RuntimeError, match="pass 7 failed"):
        drain_passes([[i] for i in range(10)], run, pool=pool, threads=2, caller_drains=False)
