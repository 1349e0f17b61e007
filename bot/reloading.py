"""A new configuration in running processes: `partnerline reload`, SIGHUP, and the version
every process follows.

How a reload travels:

1. Whoever reloads (`partnerline reload`, or a process sent SIGHUP) reads the file and checks
   it as `partnerline check` does. A file with problems changes nothing: the problems are
   printed (the command) or logged, one line each (the signal).
2. One transaction then writes what the database keeps of the configuration (clients and
   contacts, `sync_directory`; the rotations' next handoffs) and records the file's text as
   a new version (storage/config_versions.py).
3. Every process looks at the stored version about once a second (`CHECK_SECONDS`, one short
   read on a connection of its own, so an idle process stays idle); on a version it does not
   run, it builds every part that depends on the configuration from the stored text and swaps
   them in at once (bot/usecases/configured.py). On SQLite (`serve`) the same path runs in
   one process.

The processes load the text stored in the database, not their own copy of the file: every
process then runs exactly the text that was checked, even when they run on other machines
whose copy differs or is being edited, and nobody has to compare copies after the fact.

At start a process runs its own file, and takes the stored version as seen (a warning says
so when the two differ): starting is not a reload, and the next reload aligns everyone.
Channel settings (`[channels]`, the adapters and chat apps built from them) are read once at
start: a reload that changes them says they apply at the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from bot.config import AgencyConfig, Problem, check_config, check_text
from bot.config.directory import build_directory
from bot.container import Container
from bot.settings import Settings
from bot.usecases.availability import Availability
from bot.usecases.configured import Configured
from bot.usecases.directory import Directory
from bot.usecases.handoffs import Handoffs
from bot.usecases.oncall import OnCallService
from bot.usecases.paging import Paging
from routing.clock import Clock
from storage.config_versions import StoredConfig, VersionWatch, checksum
from storage.db import retryable
from storage.directory import sync_directory
from storage.unit_of_work import UnitOfWork

log = logging.getLogger("partnerline")

# How often a process looks for a new version: a reload reaches every process within this.
CHECK_SECONDS = 1.0


def build_configured(
    settings: Settings,
    config: AgencyConfig,
    *,
    clock: Clock,
    uow: Callable[[], UnitOfWork],
    digest: str = "",
) -> Configured:
    """Every part that depends on the configuration, built from one file and nothing else
    (the directory once: everything below reads this one)."""
    directory = build_directory(config)
    paging = Paging(
        directory,
        public_url=settings.public_url,
        coalesce=timedelta(seconds=settings.page_coalesce_seconds),
    )
    return Configured(
        source=config,
        checksum=digest,
        directory=directory,
        availability=Availability(directory, public_url=settings.public_url, paging=paging),
        oncall=OnCallService(directory, uow, clock),
    )


@dataclass(frozen=True, slots=True)
class Loaded:
    """A configuration file read and checked: the model and its text, or its problems."""

    path: str
    text: str
    config: AgencyConfig | None
    problems: list[Problem]


def read_config(path: str) -> Loaded:
    try:
        text = Path(path).read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError):  # the loader words each of these
        return Loaded(path, "", None, check_config(path) or [Problem(path, None, "", "unreadable")])
    config, problems = check_text(text, path)
    return Loaded(path, text, config, problems)


def record_config(
    uow_factory: Callable[[], UnitOfWork],
    directory: Directory,
    loaded: Loaded,
    now: datetime,
) -> tuple[StoredConfig, bool]:
    """What the database keeps of a checked configuration, and its text as the version to run,
    in one transaction (True when that is a new version). Run again when a concurrent recorder
    won the race for the row."""
    for attempt in range(5):
        try:
            with uow_factory() as uow:
                sync_directory(uow.session, tuple(directory.clients.values()), now)
                Handoffs(directory).ensure_handoffs(uow, now)
                stored, new = uow.config_versions.record(path=loaded.path, text=loaded.text, at=now)
                uow.commit()
                return stored, new
        except Exception as exc:
            if not retryable(exc) or attempt == 4:
                raise
    raise AssertionError("unreachable")


class Reloader:
    """One process's side of reloading: its SIGHUP, and following the stored version."""

    def __init__(self, container: Container) -> None:
        self.container = container
        # The file this process was started with: what a SIGHUP reads again.
        self.path = container.config.source_path
        self.applied: int | None = None  # the stored version this process runs
        self._running: str | None = None  # the checksum of the text it runs (None: unknown)
        self._refused: int | None = None  # a stored version found unusable here (said once)
        self._watch = VersionWatch(container.db.engine)
        self._wake: asyncio.Event | None = None
        self._hangup = False
        self._stopping = False

    # ------------------------------------------------------------------ the steps
    def start(self) -> None:
        """Take the stored version as the one this process runs (it runs its own file)."""
        with self.container.services.reader() as uow:
            stored = uow.config_versions.current()
        own = self._running = _file_checksum(self.path)
        if stored is None:
            return
        self.applied = stored.version
        if own is not None and own != stored.checksum:
            log.warning(
                "configuration: %s differs from version %d that `partnerline reload` stored "
                "(from %s); running %s until the next reload",
                self.path,
                stored.version,
                stored.path,
                self.path,
            )

    def reload_file(self, path: str | None = None) -> list[Problem]:
        """Read, check, record and apply a file (a SIGHUP: this process's own). Problems
        change nothing; each is logged on a line of its own."""
        loaded = read_config(path or self.path)
        if loaded.config is None:
            for problem in loaded.problems:
                log.error("configuration not reloaded: %s", problem)
            return loaded.problems
        directory = build_directory(loaded.config)
        stored, new = record_config(
            self.container.services.uow, directory, loaded, self.container.clock.now()
        )
        if not new and stored.checksum == self._running:
            log.info(
                "configuration: %s is version %d already, unchanged", loaded.path, stored.version
            )
            return []
        self._swap(loaded.config, stored)
        return []

    def follow(self) -> bool:
        """Apply the stored version if this process does not run it yet; True if it did."""
        version = self._watch()
        if version is None or version in (self.applied, self._refused):
            return False
        with self.container.services.reader() as uow:
            stored = uow.config_versions.current()
        if stored is None or stored.version in (self.applied, self._refused):
            return False
        config, problems = check_text(stored.text, stored.path)
        if config is None:  # checked when recorded: only another version of Partnerline here
            self._refused = stored.version
            for problem in problems:
                log.error("configuration version %d not applied: %s", stored.version, problem)
            return False
        self._swap(config, stored)
        return True

    def _swap(self, config: AgencyConfig, stored: StoredConfig) -> None:
        container = self.container
        configured = build_configured(
            container.settings,
            config,
            clock=container.clock,
            uow=container.services.uow,
            digest=stored.checksum,
        )
        before = container.config
        container.live.replace(configured)
        self.applied, self._running = stored.version, stored.checksum
        log.info(
            "configuration: version %d applied (%s, checksum %s)",
            stored.version,
            stored.path,
            stored.checksum[:12],
        )
        if config.channels != before.channels:
            log.warning(
                "configuration: [channels] changed; channel settings apply at the next start"
            )

    # ------------------------------------------------------------------ the loop
    def hangup(self) -> None:
        """SIGHUP (on the event loop's thread): reload this process's file now."""
        self._hangup = True
        if self._wake is not None:
            self._wake.set()

    def stop(self) -> None:
        """End `run` once the step under way (in a thread) is done (on the loop's thread)."""
        self._stopping = True
        if self._wake is not None:
            self._wake.set()

    async def run(self) -> None:
        """Until `stop`: reload on SIGHUP, and follow the stored version."""
        self._wake = asyncio.Event()
        hup = _install_sighup(self.hangup)
        try:
            try:
                await asyncio.to_thread(self.start)
            except Exception:  # the database away a moment: the next look will tell
                log.warning("configuration: could not read the stored version", exc_info=True)
            while not self._stopping:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), CHECK_SECONDS)
                self._wake.clear()
                if self._stopping:
                    break
                try:
                    if self._hangup:
                        self._hangup = False
                        await asyncio.to_thread(self.reload_file)
                    else:
                        await asyncio.to_thread(self.follow)
                except Exception:
                    log.exception("configuration reload failed; the configuration is unchanged")
        finally:
            if hup:
                with contextlib.suppress(Exception):
                    asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
            # Not while a step runs in a thread: it would lose its connection mid-statement.
            self._watch.close()


def _install_sighup(handler: Callable[[], None]) -> bool:
    """SIGHUP calls `handler` on this loop; only the main thread can take signals (an app
    served from a test's thread has none to take)."""
    if threading.current_thread() is not threading.main_thread():
        return False
    try:
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, handler)
    except (RuntimeError, ValueError, NotImplementedError):
        return False
    return True


def _file_checksum(path: str) -> str | None:
    try:
        return checksum(Path(path).read_bytes().decode("utf-8-sig"))
    except (OSError, UnicodeDecodeError):
        return None
