"""The unit of work: one transaction per use case; leaving without commit() rolls back."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import TracebackType

from sqlalchemy.orm import Session

from storage.channel_refs import ChannelRefs
from storage.commitments import CommitmentRepository
from storage.conversations import ConversationRepository
from storage.db import Database
from storage.inbound import InboundQueue
from storage.live import LiveState
from storage.outbox import Outbox
from storage.overrides import OverrideRepository
from storage.pages import PageRepository
from storage.router_store import SqlRouterStore
from storage.timers import Timers

# Called inside the transaction, just before it commits, with the ids of the messages it
# recorded: how the Slack mirror and others add their own rows atomically with the message.
BeforeCommit = Callable[["UnitOfWork", list[int]], None]


class UnitOfWork:
    session: Session
    conversations: ConversationRepository
    commitments: CommitmentRepository
    router_store: SqlRouterStore
    outbox: Outbox
    timers: Timers
    inbound: InboundQueue
    overrides: OverrideRepository
    pages: PageRepository
    channel_refs: ChannelRefs
    live: LiveState

    def __init__(
        self,
        db: Database,
        on_commit: Callable[[], None] | None = None,
        before_commit: Sequence[BeforeCommit] = (),
    ) -> None:
        self.db = db
        self._on_commit = on_commit
        self._before_commit = tuple(before_commit)
        self._committed = False
        self.new_messages: list[int] = []
        self.run_hooks = True

    def __enter__(self) -> UnitOfWork:
        self._cm = self.db.session()
        self.session = self._cm.__enter__()
        self.new_messages = []
        self.conversations = ConversationRepository(self.session, self.new_messages)
        self.commitments = CommitmentRepository(self.session)
        self.router_store = SqlRouterStore(self.session, self.new_messages)
        self.outbox = Outbox(self.session)
        self.timers = Timers(self.session)
        self.inbound = InboundQueue(self.session)
        self.overrides = OverrideRepository(self.session)
        self.pages = PageRepository(self.session)
        self.channel_refs = ChannelRefs(self.session)
        self.live = LiveState(self.session)
        self._committed = False
        self.run_hooks = True
        return self

    def defer_hooks(self) -> None:
        """Commit without the before-commit hooks (the Slack mirror): filing a client message
        must not depend on them; its follow-up runs them (`announce`)."""
        self.run_hooks = False

    def announce(self, message_ids: list[int]) -> None:
        """Hand messages filed by an earlier transaction to this one's before-commit hooks."""
        self.new_messages.extend(i for i in message_ids if i not in self.new_messages)

    def commit(self) -> None:
        for hook in self._before_commit if self.run_hooks else ():
            if self.new_messages:
                hook(self, list(self.new_messages))
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
