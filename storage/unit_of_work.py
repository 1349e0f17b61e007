"""The unit of work: one transaction per use case; leaving without commit() rolls back."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType

from sqlalchemy.orm import Session

from storage.commitments import CommitmentRepository
from storage.conversations import ConversationRepository
from storage.db import Database
from storage.outbox import Outbox
from storage.router_store import SqlRouterStore
from storage.timers import Timers


class UnitOfWork:
    session: Session
    conversations: ConversationRepository
    commitments: CommitmentRepository
    router_store: SqlRouterStore
    outbox: Outbox
    timers: Timers

    def __init__(self, db: Database, on_commit: Callable[[], None] | None = None) -> None:
        self.db = db
        self._on_commit = on_commit
        self._committed = False

    def __enter__(self) -> UnitOfWork:
        self._cm = self.db.session()
        self.session = self._cm.__enter__()
        self.conversations = ConversationRepository(self.session)
        self.commitments = CommitmentRepository(self.session)
        self.router_store = SqlRouterStore(self.session)
        self.outbox = Outbox(self.session)
        self.timers = Timers(self.session)
        self._committed = False
        return self

    def commit(self) -> None:
        self.session.commit()
        self._committed = True

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if not self._committed:
                self.session.rollback()
        finally:
            self._cm.__exit__(exc_type, exc, tb)
        # Wake the worker only for work that is really in the database.
        if self._committed and exc_type is None and self._on_commit is not None:
            self._on_commit()
