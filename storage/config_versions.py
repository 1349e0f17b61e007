"""The configuration every running process applies: one row that `partnerline reload` (or a
SIGHUP) replaces with the validated file's text, and that each process looks at about once a
second (`VersionWatch`), applying a version it does not run yet (bot/reloading.py)."""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, select
from sqlalchemy.orm import Session

from storage.tables import ConfigVersionRow

ROW_ID = 1  # the one row


def checksum(text: str) -> str:
    """The SHA-256 of a configuration's text, in hex: what tells two files apart."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class StoredConfig:
    version: int
    checksum: str
    path: str  # the file it was read from, on the host that recorded it
    text: str
    recorded_at: datetime


def _stored(row: ConfigVersionRow) -> StoredConfig:
    return StoredConfig(row.version, row.checksum, row.path, row.text, row.recorded_at)


class ConfigVersions:
    def __init__(self, session: Session) -> None:
        self.session = session

    def current(self) -> StoredConfig | None:
        row = self.session.get(ConfigVersionRow, ROW_ID)
        return _stored(row) if row is not None else None

    def record(self, *, path: str, text: str, at: datetime) -> tuple[StoredConfig, bool]:
        """Make `text` the configuration to run: a new version, unless it is the one stored
        already (then nothing changes). True when a new version was recorded. Two recorders
        at once: one insert wins, the other's unique key fails and its transaction is run
        again (storage.db.retryable)."""
        digest = checksum(text)
        row = self.session.get(ConfigVersionRow, ROW_ID, with_for_update=True)
        if row is not None and row.checksum == digest:
            return _stored(row), False
        if row is None:
            row = ConfigVersionRow(id=ROW_ID, version=0)
            self.session.add(row)
        row.version += 1
        row.checksum, row.path, row.text, row.recorded_at = digest, path, text, at
        self.session.flush()
        return _stored(row), True


class VersionWatch:
    """The stored version number, for a process that asks every second: one statement on a
    connection of its own in autocommit (no transaction, no write lock on SQLite), as
    storage/schedule.py's NextDue. Called from one thread at a time."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._conn: Connection | None = None

    def __call__(self) -> int | None:
        """The stored version, or None before the first reload."""
        if self._conn is None:
            self._conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            return self._conn.execute(
                select(ConfigVersionRow.version).where(ConfigVersionRow.id == ROW_ID)
            ).scalar_one_or_none()
        except Exception:
            self.close()  # a database restart, say: a new connection next time
            raise

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.invalidate()
                conn.close()
