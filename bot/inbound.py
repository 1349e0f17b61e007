"""Journal webhooks with group commit: concurrent deliveries share one transaction.

A webhook awaits `submit()`; one writer thread takes everything queued, writes it in one
transaction, commits (one fsync for the batch) and only then releases the waiting requests,
so every delivery is on disk before its provider hears "200".
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

from routing.messages import Channel
from storage.db import Database
from storage.inbound import JournalEntry, write_batch

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
            with self.db.write_connection() as conn:
                write_batch(conn, [entry for entry, _ in batch])
        except Exception as exc:
            log.exception("journalling %d inbound deliveries failed", len(batch))
            for _, done in batch:
                done.set_exception(exc)
            return
        for _, done in batch:
            done.set_result(None)
        if self._on_commit is not None:
            self._on_commit()
