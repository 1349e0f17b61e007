"""What every use case shares: a unit of work per transaction, the clock, the directory,
and a transaction run again when the database settled a race against it.

The use cases are built in layers, each a class in its own module that extends the one below
(see bot/usecases/services.py): conversations (staff actions), page answers (which reply
through them), inbound (client messages, and a paged person's SMS, which answers pages).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from bot.usecases.availability import Availability
from bot.usecases.configured import Configured, LiveConfig
from bot.usecases.directory import Directory
from bot.usecases.paging import Paging
from routing.clock import Clock
from routing.errors import DomainError, NotFound
from routing.messages import Channel
from storage.conversations import ConversationView
from storage.db import Database, retryable
from storage.unit_of_work import BeforeCommit, UnitOfWork

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Author:
    """Who acts: a staff member, or `admin` for the bootstrap token."""

    id: str
    name: str
    type: str = "staff"


ADMIN = Author(id="admin", name="admin", type="staff")


class UseCases:
    """The shared part of the use cases; `Services` is the whole."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        live: LiveConfig | None = None,
        on_commit: Callable[[], None] | None = None,
        before_commit: Sequence[BeforeCommit] = (),
    ) -> None:
        self.db = db
        # The configuration in force, swapped whole by a reload: each property below reads
        # it afresh, so a use that needs two of them takes `configured` once instead.
        self.live = live
        self.clock = clock
        self._on_commit = on_commit
        self.before_commit = list(before_commit)

    @property
    def configured(self) -> Configured | None:
        return self.live.current if self.live is not None else None

    @property
    def directory(self) -> Directory | None:
        return self.live.current.directory if self.live is not None else None

    @property
    def availability(self) -> Availability | None:
        return self.live.current.availability if self.live is not None else None

    @property
    def staff_names(self) -> Mapping[str, str]:
        """The directory's (no directory: nobody is staff)."""
        return self.live.current.directory.staff_names if self.live is not None else {}

    def uow(self, *, durable: bool = True, wakes: bool = True) -> UnitOfWork:
        """A unit of work; `durable=False` for work done again if lost (its commit is not
        synced to disk on SQLite: `Database.session`); `wakes=False` for one whose commit
        makes no work for the worker (`UnitOfWork.wakes`)."""
        return UnitOfWork(
            self.db,
            on_commit=self._on_commit,
            before_commit=self.before_commit,
            durable=durable,
            wakes=wakes,
        )

    def reader(self) -> UnitOfWork:
        """A unit of work that only reads (a page, a look at the state): it does not wait
        behind writers, and cannot commit."""
        return UnitOfWork(self.db, read_only=True)

    def glance(self) -> UnitOfWork:
        """A reader whose statements need not share one snapshot (`Database.read_session`):
        on PostgreSQL without a transaction's two round trips."""
        return UnitOfWork(self.db, glance=True)

    def _retrying(self, work: Callable[[], T], attempts: int = 5) -> T:
        """Run a transaction again when a concurrent one won a race the database settled."""
        for attempt in range(attempts):
            try:
                return work()
            except Exception as exc:
                if not retryable(exc) or attempt == attempts - 1:
                    raise
                log.info("transaction retried after %s", type(exc).__name__)
                time.sleep(0.005 * (attempt + 1))
        raise AssertionError("unreachable")

    def _conversation(self, uow: UnitOfWork, conversation_id: int) -> ConversationView:
        view = uow.conversations.get(conversation_id)
        if view is None:
            raise NotFound("conversation_not_found", f"no conversation {conversation_id}")
        return view

    @property
    def paging(self) -> Paging:
        if self.availability is None or self.availability.paging is None:
            raise DomainError("paging_off", "paging is not configured")
        return self.availability.paging

    def _payload(self, channel: Channel, text: str) -> dict[str, object]:
        if self.availability is not None:
            return self.availability.client_payload(channel, text)
        return {"text": text}
