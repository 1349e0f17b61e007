"""The worker's wakeup (bot/jobs/wakeup.py): commits on any thread wake the loop; a burst of
them wakes it once, and none made after the loop looked again is lost."""

from __future__ import annotations

import asyncio
import threading

from bot.jobs.wakeup import Wakeup


async def test_a_burst_from_threads_wakes_once_and_later_ones_wake_again() -> None:
    wakeup = Wakeup()
    wakeup.bind()
    loop = asyncio.get_running_loop()
    calls = 0
    original = loop.call_soon_threadsafe

    def counting(*args: object) -> asyncio.Handle:
        nonlocal calls
        calls += 1
        return original(*args)  # type: ignore[arg-type]

    loop.call_soon_threadsafe = counting  # type: ignore[method-assign,assignment]
    try:
        threads = [threading.Thread(target=wakeup.notify) for _ in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert await wakeup.wait(5.0)
        assert calls == 1  # one loop wakeup, not one per commit
        assert not await wakeup.wait(0.05)  # all of them were that one wakeup
        # After the loop looked, a new commit wakes it again.
        await asyncio.to_thread(wakeup.notify)
        assert await wakeup.wait(5.0)
    finally:
        loop.call_soon_threadsafe = original  # type: ignore[method-assign]


async def test_a_rebound_wakeup_still_wakes() -> None:
    wakeup = Wakeup()
    wakeup.bind()
    await asyncio.to_thread(wakeup.notify)
    wakeup.bind()  # the worker started again: nothing queued carries over
    await asyncio.to_thread(wakeup.notify)
    assert await wakeup.wait(5.0)
