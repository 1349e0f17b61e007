"""Wake the worker the moment new work is committed, from any thread of the process."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable


class Wakeup:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None
        self._lock = threading.Lock()
        self._scheduled = False  # a set() is queued on the loop already
        # Also tell the workers of other processes (`partnerline web` on PostgreSQL:
        # storage/work_signal.py), where none runs in this one.
        self.elsewhere: Callable[[], None] | None = None

    def bind(self) -> None:
        """Called by the worker from inside its event loop."""
        with self._lock:
            self._loop = asyncio.get_running_loop()
            self._event = asyncio.Event()
            self._scheduled = False

    def notify(self) -> None:
        if self.elsewhere is not None:
            self.elsewhere()
        with self._lock:
            loop, event = self._loop, self._event
        if loop is None or event is None or loop.is_closed():
            return
        # Every commit notifies; one wakeup covers all made before the loop looks again.
        # (An event seen set, or a set() still queued, is one the loop has not acted on:
        # what it then looks at includes this commit, made before this check.)
        if event.is_set() or self._scheduled:
            return
        self._scheduled = True
        try:
            loop.call_soon_threadsafe(self._set, event)
        except RuntimeError:  # the loop closed between the check and the call
            self._scheduled = False

    def _set(self, event: asyncio.Event) -> None:
        self._scheduled = False
        event.set()

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
