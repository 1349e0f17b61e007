"""Serve an ASGI app on 127.0.0.1 in a background thread, for stand-ins and test receivers."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Literal, Self

import uvicorn
from starlette.types import ASGIApp


class LoopbackServer:
    """An ASGI app served by uvicorn on 127.0.0.1 from its own thread and event loop.

    The socket is bound by `start()` itself, so the port (ephemeral unless given) is known as soon
    as it returns; `stop()` closes it, after which connections are refused. Started again, the
    server binds the same port as before, so that clients pointed at `url` reach it again.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        port: int = 0,
        start_timeout: float = 10.0,
        lifespan: Literal["auto", "on", "off"] = "off",
    ) -> None:
        self._app = app
        self._lifespan = lifespan
        self._port = port
        self._start_timeout = start_timeout
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._bound_port: int | None = None

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT`, without a trailing slash."""
        if self._bound_port is None:
            raise RuntimeError("the server is not started")
        return f"http://127.0.0.1:{self._bound_port}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> Self:
        if self._thread is not None:
            raise RuntimeError("the server is already started")
        # IPPROTO_TCP, not the default 0: asyncio turns Nagle's algorithm off on accepted
        # connections only when the socket says it is TCP. Without it each response (headers
        # and body written apart) waited for the client's delayed ACK: 44 ms a request.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", self._bound_port or self._port))
        except OSError:
            sock.close()
            raise
        self._bound_port = sock.getsockname()[1]
        # No log_config/log_level/access_log: uvicorn would otherwise reconfigure the process-wide
        # "uvicorn.*" loggers, which the application's own server (sandbox mode) shares.
        config = uvicorn.Config(self._app, log_config=None, lifespan=self._lifespan, loop="asyncio")
        server = uvicorn.Server(config)
        # uvicorn installs no signal handlers outside the main thread, so Ctrl-C stays the host's.
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="loopback-server", daemon=True
        )
        self._server, self._thread = server, thread
        thread.start()
        deadline = time.monotonic() + self._start_timeout
        while not server.started:
            if not thread.is_alive():
                sock.close()
                self._server = self._thread = None
                raise RuntimeError("the loopback server stopped while starting")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"the loopback server did not start in {self._start_timeout}s")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(timeout)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class StandIn:
    """What every provider stand-in shares: served on loopback, started and stopped, usable
    as a context manager. Subclasses set `_server` to their LoopbackServer."""

    _server: LoopbackServer

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT`: the scheme and host that replace the provider's."""
        return self._server.url

    def start(self) -> Self:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
