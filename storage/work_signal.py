"""New work, told across processes on PostgreSQL (LISTEN/NOTIFY).

A `web` process journals webhooks and writes staff replies that a `worker` process acts on.
Its commits cannot wake a worker's event loop the way `serve`'s do in-process
(bot/jobs/wakeup.py), so an idle worker found them only at its next look, up to
PARTNERLINE_WORKER_MAX_SLEEP (1 s) later: bench.e2e at 60 messages a second had p50 34 ms
but p90 0.3 s and p99 1.0 s on PostgreSQL. The web now sends `NOTIFY partnerline_work` after
such commits (`WorkSignal`), and each worker holds a connection that LISTENs and wakes its
loop (`listen`). A lost signal costs only the wait for the next look, as before.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

CHANNEL = "partnerline_work"
RETRY_S = 1.0  # after a lost connection, before connecting again


def _conninfo(url: str) -> str:
    """A libpq URL for psycopg, from the SQLAlchemy URL (its driver name dropped)."""
    parsed = make_url(url).set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)


class WorkSignal:
    """Sends NOTIFY from a thread of its own, so that a commit never waits for it: `send()`
    asks for one, and the asks made while one is sent are covered by the next."""

    def __init__(self, url: str) -> None:
        self._conninfo = _conninfo(url)
        self._asked = threading.Event()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="work-signal", daemon=True)
        self._thread.start()

    def send(self) -> None:
        self._asked.set()

    def stop(self) -> None:
        self._stopped.set()
        self._asked.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        conn: psycopg.Connection[tuple[object, ...]] | None = None
        while True:
            self._asked.wait()
            if self._stopped.is_set():
                break
            self._asked.clear()  # asks from here on are for the next NOTIFY
            try:
                if conn is None or conn.closed:
                    conn = psycopg.connect(self._conninfo, autocommit=True)
                conn.execute(f"NOTIFY {CHANNEL}")
            except psycopg.Error as exc:
                log.warning("could not signal new work to the workers: %s", exc)
                conn = None
                self._stopped.wait(RETRY_S)
        if conn is not None:
            conn.close()


def listen(url: str, on_signal: Callable[[], None], stopped: threading.Event) -> None:
    """LISTEN until `stopped`, calling `on_signal` for each notification (from this thread);
    a lost connection is made again after RETRY_S. Run it in a thread of its own."""
    conninfo = _conninfo(url)
    while not stopped.is_set():
        try:
            with psycopg.connect(conninfo, autocommit=True) as conn:
                conn.execute(f"LISTEN {CHANNEL}")
                on_signal()  # whatever was signalled while not listening
                while not stopped.is_set():
                    for _ in conn.notifies(timeout=0.5):
                        on_signal()
        except psycopg.Error as exc:
            log.warning("lost the connection that listens for new work: %s", exc)
            stopped.wait(RETRY_S)


def start_listening(url: str, on_signal: Callable[[], None]) -> Callable[[], None]:
    """`listen` in a daemon thread; returns what stops it."""
    stopped = threading.Event()
    thread = threading.Thread(
        target=listen, args=(url, on_signal, stopped), name="work-listener", daemon=True
    )
    thread.start()

    def stop() -> None:
        stopped.set()
        thread.join(timeout=5)

    return stop
