"""Wake the worker the moment new work is committed, from any thread of the process."""

from __future__ import annotations

import asyncio
import contextlib
import threading


class Wakeup:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None
        self._lock = threading.Lock()

    def bind(self) -> None:
        """Called by the worker from inside its event loop."""
        with self._lock:
            self._loop = asyncio.get_running_loop()
            self._event = asyncio.Event()

    def notify(self) -> None:
        with self._lock:
            loop, event = self._loop, self._event
        if loop is None or event is None or loop.is_closed():
            return
        # The loop may close between the check and the call.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(event.set)

    def clear(self) -> None:
        """Forget notifications so far (from the loop's thread): the caller is about to look
        at everything they announced."""
        if self._event is not None:
            self._event.clear()

    async def wait(self, timeout: float) -> bool:
        """Until notified or `timeout` seconds passed; True if notified."""
        assert self._event is not None, "bind() first"
        notified = False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout=max(0.0, timeout))
            notified = True
        notified = notified or self._event.is_set()
        self._event.clear()
        return notified
