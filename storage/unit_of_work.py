"""The unit of work: one transaction per use case; leaving without commit() rolls back."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType

from sqlalchemy.orm import Session

from storage.channel_refs import ChannelRefs
from storage.commitments import CommitmentRepository
from storage.config_versions import ConfigVersions
from storage.contacts import ContactRepository
from storage.conversations import ConversationRepository
from storage.db import Database
from storage.inbound import InboundQueue
from storage.live import LiveState
from storage.notices import Notices
from storage.outbox import Outbox
from storage.overrides import OverrideRepository
from storage.pages import PageRepository
from storage.read_markers import ReadMarkers
from storage.router_store import SqlRouterStore
from storage.timers import Timers

# Called inside the transaction, just before it commits, with the ids of the messages it
# recorded (and `changed_conversations`, whose state moved without a message): how the Slack
# mirror and others add their own rows atomically with what changed.
BeforeCommit = Callable[["UnitOfWork", list[int]], None]


class Undo(BaseException):
    """A part of an optimistic batch failed (`UnitOfWork.optimistic`): its transaction is to
    be rolled back as a whole and the batch done again with a savepoint a part. A
    BaseException, so that no handler's `except Exception` takes it for its own failure."""


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
    read_markers: ReadMarkers
    notices: Notices
    config_versions: ConfigVersions
    contacts: ContactRepository

    def __init__(
        self,
        db: Database,
        on_commit: Callable[[], None] | None = None,
        before_commit: Sequence[BeforeCommit] = (),
        *,
        read_only: bool = False,
        glance: bool = False,
        durable: bool = True,
        wakes: bool = True,
    ) -> None:
        self.db = db
        # False: its commit makes no work for the worker (`on_commit` is not called): the
        # Slack mirror's records and its jobs' leases and ends. Each woke the worker for a
        # look at what is due that found nothing: one a sync in the mirror's catch-up.
        self.wakes = wakes
        # False: work done again if lost, committed without a disk sync on SQLite
        # (`Database.session`).
        self.durable = durable
        self.read_only = read_only or glance
        self.glance = glance  # see `Database.read_session`
        self._on_commit = on_commit
        self._before_commit = tuple(before_commit)
        self._committed = False
        self.new_messages: list[int] = []
        # The conversation of each of `new_messages` that the code recording it knew, so
        # that the hooks need not read it back.
        self.conversation_of: dict[int, int] = {}
        self.changed_conversations: set[int] = set()
        self.run_hooks = True
        # Parts without savepoints (`part`, `after_filing`): a savepoint through the session
        # costs about 150 us of CPU, more than the statements of a message's follow-up, and
        # is needed only when something fails. The batch's owner then rolls back and does
        # the batch again with savepoints (bot/jobs/worker.py).
        self.optimistic = False

    def __enter__(self) -> UnitOfWork:
        self._cm = (
            self.db.read_session(glance=self.glance)
            if self.read_only
            else self.db.session(durable=self.durable)
        )
        self.session = self._cm.__enter__()
        self.new_messages = []
        self.conversation_of = {}
        self.changed_conversations = set()
        self.conversations = ConversationRepository(
            self.session, self.new_messages, self.conversation_of
        )
        self.commitments = CommitmentRepository(self.session)
        self.router_store = SqlRouterStore(self.session, self.new_messages, self.conversation_of)
        self.outbox = Outbox(self.session)
        self.timers = Timers(self.session)
        self.inbound = InboundQueue(self.session)
        self.overrides = OverrideRepository(self.session)
        self.pages = PageRepository(self.session)
        self.channel_refs = ChannelRefs(self.session)
        self.live = LiveState(self.session)
        self.read_markers = ReadMarkers(self.session)
        self.notices = Notices(self.session)
        self.config_versions = ConfigVersions(self.session)
        self.contacts = ContactRepository(self.session)
        self._committed = False
        self.run_hooks = True
        return self

    def defer_hooks(self) -> None:
        """Commit without the before-commit hooks (the Slack mirror): filing a client message
        must not depend on them; its follow-up runs them (`announce`)."""
        self.run_hooks = False

    def announce(self, message_ids: list[int], conversation_id: int) -> None:
        """Hand messages of a conversation filed by an earlier transaction to this one's
        before-commit hooks."""
        self.new_messages.extend(i for i in message_ids if i not in self.new_messages)
        self.conversation_of.update(dict.fromkeys(message_ids, conversation_id))

    def conversation_changed(self, conversation_id: int) -> None:
        """Say that a conversation's state moved with no new message (a commitment fell at
        risk or due), so that the before-commit hooks show it."""
        self.changed_conversations.add(conversation_id)

    @contextlib.contextmanager
    def part(self) -> Iterator[None]:
        """One part of a batched transaction (a savepoint): the before-commit hooks see what
        it recorded as it ends, inside the savepoint, so a failure in it or in a hook undoes
        only this part, and the parts before and after it commit. `optimistic`: no
        savepoint; a failure is the caller's to undo (with the whole transaction)."""
        self._end_part()  # what came before is not this part's
        try:
            if self.optimistic:
                yield
                self._run_hooks()
                return
            with self.session.begin_nested():
                yield
                self._run_hooks()
        finally:
            self._end_part()

    @contextlib.contextmanager
    def after_filing(self) -> Iterator[None]:
        """A step after what this part filed (its hooks deferred), in a savepoint of its own
        that runs the before-commit hooks as it ends: if the step or a hook fails, only the
        step is undone, the exception goes on, and the hooks stay deferred, as before it.
        `optimistic`: no savepoint; a failure raises Undo, for the whole transaction."""
        if self.optimistic:
            try:
                self.run_hooks = True
                yield
                self._run_hooks()
            except Exception as exc:
                raise Undo() from exc
            finally:
                self.run_hooks = False
            return
        before = (list(self.new_messages), dict(self.conversation_of))
        changed = set(self.changed_conversations)
        try:
            with self.session.begin_nested():
                self.run_hooks = True
                yield
                self._run_hooks()
        except BaseException:
            self.new_messages[:] = before[0]
            self.conversation_of.clear()
            self.conversation_of.update(before[1])
            self.changed_conversations.clear()
            self.changed_conversations.update(changed)
            raise
        finally:
            self.run_hooks = False  # they saw it all: the part's end runs them no more

    def _end_part(self) -> None:
        # Cleared in place: the repositories append to the same list.
        self.new_messages.clear()
        self.conversation_of.clear()
        self.changed_conversations.clear()
        self.run_hooks = True

    def _run_hooks(self) -> None:
        for hook in self._before_commit if self.run_hooks else ():
            if self.new_messages or self.changed_conversations:
                hook(self, list(self.new_messages))

    def commit(self) -> None:
        if self.read_only:
            raise RuntimeError("a read-only unit of work cannot commit")
        self._run_hooks()
        self.session.commit()
        self._committed = True

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._committed:
                pass
            elif self.read_only and exc_type is None:
                self.db.end_read(self.session)
            else:
                self.session.rollback()
        finally:
            self._cm.__exit__(exc_type, exc, tb)
        # Wake the worker only for work that is really in the database.
        if self._committed and exc_type is None and self.wakes and self._on_commit is not None:
            self._on_commit()
