"""uvicorn's server, waking once a second when idle rather than ten times.

uvicorn wakes its event loop every 0.1 s for housekeeping: refreshing the Date header, which
changes once a second, and noticing a request to stop. On a small machine each wake costs
about half a millisecond of CPU, half a percent of a core for a process with nothing to do
(tests/e2e/test_idle.py measures an idle `serve` and `web`). Here the housekeeping runs once a
second, and a request to stop wakes the loop at once, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
from types import FrameType

import uvicorn

TICK_SECONDS = 1.0


class HttpServer(uvicorn.Server):
    _loop: asyncio.AbstractEventLoop | None = None
    _stopping: asyncio.Event | None = None

    async def main_loop(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            # on_tick counts uvicorn's 0.1 s ticks and refreshes the headers every tenth.
            counter = (counter + 10) % 864000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), TICK_SECONDS)
            should_exit = await self.on_tick(counter)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closing already
                loop.call_soon_threadsafe(stopping.set)


def run(app: object, **config: object) -> None:
    """`uvicorn.run(app, **config)` for one process (no reload, no workers)."""
    HttpServer(uvicorn.Config(app, **config)).run()  # type: ignore[arg-type]  # uvicorn.run's own keyword set, passed on
