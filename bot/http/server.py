"""uvicorn's server, waking once a second when idle rather than ten times.

uvicorn wakes its event loop every 0.1 s for housekeeping: refreshing the Date header, which
changes once a second, and noticing a request to stop. On a small machine each wake costs
about half a millisecond of CPU, half a percent of a core for a process with nothing to do
(tests/e2e/test_idle.py measures an idle `serve` and `web`). Here the housekeeping runs once a
second, and a request to stop wakes the loop at once, as before.

Its log is the application's: uvicorn installs no handlers of its own (the command line set up
logging already), keeps its "uvicorn.error" logger for warnings and errors, and no access log;
the one INFO line at start-up is ours, "serving at URL", once the socket listens.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from types import FrameType

import uvicorn

TICK_SECONDS = 1.0
log = logging.getLogger("partnerline")


class HttpServer(uvicorn.Server):
    _loop: asyncio.AbstractEventLoop | None = None
    _stopping: asyncio.Event | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            log.info("serving at %s", self.url)

    @property
    def url(self) -> str:
        """The listening address as a URL; the port is the bound one (`port=0` asks for any)."""
        host, port = self.servers[0].sockets[0].getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        return f"{'https' if self.config.ssl else 'http'}://{shown}:{port}"

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


def run(app: object, *, host: str, port: int) -> None:
    """Serve `app` in this process (no reload, no workers) until SIGINT or SIGTERM."""
    config = uvicorn.Config(
        app,  # type: ignore[arg-type]  # an ASGI app, which uvicorn types as its own protocol
        host=host,
        port=port,
        log_config=None,
        log_level="warning",  # uvicorn's INFO lines repeat ours (start-up, each process)
        access_log=False,
    )
    HttpServer(config).run()
