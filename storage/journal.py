"""Journal webhooks with group commit: concurrent deliveries share one transaction.

A webhook awaits `submit()`; one writer thread takes everything queued, writes it in one
transaction, commits (one fsync for the batch) and only then releases the waiting requests,
so every delivery is on disk before its provider hears "200".

One bad delivery never fails the others: when the database refuses a batch for what it holds
(a value too long for its column, say), each delivery is written again under its own
savepoint in one transaction; the refused ones get the error and the rest are committed.

The rows, and how the worker claims them: storage/inbound.py.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from datetime import datetime
from typing import Any

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError

from routing.errors import MalformedPayload
from routing.messages import Channel
from storage.db import Database
from storage.inbound import JournalEntry, write_batch
from storage.upsert import ROWS_PER_INSERT

log = logging.getLogger(__name__)
MAX_BATCH = 256


class InboundJournal:
    def __init__(self, db: Database, on_commit: Callable[[], None] | None = None) -> None:
        self.db = db
        self._on_commit = on_commit
        self._queue: queue.Queue[tuple[JournalEntry, Future[None]] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    async def submit(
        self,
        *,
        channel: Channel,
        key: str,
        kind: str,
        payload: dict[str, Any],
        received_at: datetime,
    ) -> None:
        """Returns once the delivery is committed; raises if the database refused it."""
        self._ensure_started()
        done: Future[None] = Future()
        self._queue.put((JournalEntry(channel, key, kind, payload, received_at), done))
        await asyncio.wrap_future(done)

    def _ensure_started(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="inbound-journal", daemon=True
                )
                self._thread.start()

    def stop(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(10)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)  # stop after this batch
                    break
                batch.append(item)
            self._write(batch)

    def _write(self, batch: list[tuple[JournalEntry, Future[None]]]) -> None:
        try:
            # A batch of one statement (the usual, unless webhooks come by the hundred) is its
            # own transaction on PostgreSQL: one round trip, not three.
            one = len(batch) <= ROWS_PER_INSERT
            with self.db.write_connection(one_statement=one) as conn:
                write_batch(conn, [entry for entry, _ in batch])
        except Exception as exc:
            if not refused_by_database(exc):
                # The database itself failed (down, restarting): nothing is stored, and every
                # webhook answers 5xx so that its provider delivers again.
                log.exception("journalling %d inbound deliveries failed", len(batch))
                for _, done in batch:
                    done.set_exception(exc)
                return
            log.warning(  # ascii(): what was refused may hold text no log can encode
                "the database refused a batch of %d inbound deliveries (%s: %s); "
                "writing each on its own",
                len(batch),
                type(exc).__name__,
                ascii(str(exc)[:500]),
            )
            self._write_each(batch)
            return
        for _, done in batch:
            done.set_result(None)
        self._committed()

    def _write_each(self, batch: list[tuple[JournalEntry, Future[None]]]) -> None:
        """Each delivery under its own savepoint, all in one transaction: the ones the database
        refuses are answered with MalformedPayload (their webhook answers 400), and the rest
        are committed together, at once."""
        refused: dict[int, Exception] = {}
        try:
            with self.db.write_connection() as conn:
                for index, (entry, _) in enumerate(batch):
                    try:
                        with conn.begin_nested():
                            write_batch(conn, [entry])
                    except Exception as exc:
                        if not refused_by_database(exc):
                            raise
                        refused[index] = exc
        except Exception as exc:
            log.exception("journalling %d inbound deliveries failed", len(batch))
            for _, done in batch:
                done.set_exception(exc)
            return
        for index, (entry, done) in enumerate(batch):
            error = refused.get(index)
            if error is None:
                done.set_result(None)
                continue
            log.error(
                "the database refused inbound delivery %s %s (%s: %s)",
                entry.channel.value,
                ascii(entry.key[:200]),
                type(error).__name__,
                ascii(str(error)[:500]),
            )
            done.set_exception(
                MalformedPayload(f"the delivery cannot be stored: {type(error).__name__}")
            )
        if len(refused) < len(batch):
            self._committed()

    def _committed(self) -> None:
        if self._on_commit is not None:
            self._on_commit()


def refused_by_database(exc: BaseException) -> bool:
    """Whether `exc` is the database refusing these values (too long, U+0000, a string UTF-8
    cannot encode, a broken constraint), which the same values would meet again, as opposed
    to the database failing (unreachable, restarting, timed out)."""
    if isinstance(exc, DataError | IntegrityError | ValueError | TypeError):
        return True
    # Raised while preparing the values (a bind processor), before the database was asked.
    return isinstance(exc, StatementError) and not isinstance(exc, DBAPIError)
