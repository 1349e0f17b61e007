"""The staff inbox in Slack: every conversation, whatever its channel, as one thread of the
configured `staff_channel`.

How it stays correct without a table of its own:

- `before_commit` (a Services hook) runs inside every transaction that records messages and
  asks, in that same transaction, for the job "slack.mirror:<conversation>" of each
  conversation touched (a job is a timer the worker runs outside a transaction:
  storage/timers.py, bot/jobs/worker.py): the mirror can never miss a message, nor mention
  one that was rolled back.
- That job is a *sync* (`run_sync`): it posts the thread's root if the conversation has none
  yet, then every message of the conversation after the mirror's cursor, in order, then edits
  the root if its text changed. The root is therefore always posted before its thread items.
  One job per conversation, however many messages asked for it: the worker runs it under a
  lease, so one sync of a conversation runs at a time, whichever worker process runs it, and
  a message committed while it ran has it run once more. Progress is saved in one
  transaction every few posts (`UNRECORDED_POSTS`) and when a post fails, so a sync cut
  short by an error (a 429, a 500) repeats nothing, and one cut short by a crash at most
  those few posts.
- The root shows the commitment's due time and state. State changes that record no message
  (at risk, breached) mark their conversation changed in the transaction of the timer that
  moves the commitment (`UnitOfWork.conversation_changed`), and the same hook asks for the
  sync there: the root shows the new state as soon as it holds, with no polling.
- Messages written in the thread itself (staff replies and notes typed in Slack) are marked
  in the transaction that records them (`written_in_slack`), and not posted again.
- A client's edit changes the message in place (routing.edits): the transaction that records
  it names the message, and a sync that finds the message shown but its current version not
  posts "… edited a message" with the new text, once per version.

What the mirror keeps (each thread's root, how far it is, which messages are in Slack already,
whose delayed syncs are queued) is in the channel references (storage/channel_refs.py,
`uow.channel_refs`); what is still to do is in the jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from adapters.slack import (
    DELETED_TEXT,
    Posted,
    SlackAdapter,
    failure,
    literal,
    rich_text,
    split_text,
)
from bot.jobs.group_commit import GroupCommit
from bot.jobs.worker import Finish, JobHandler
from bot.usecases.services import Services
from routing.clock import Clock
from routing.errors import SendFailed
from storage.channel_refs import MirrorProgress, SlackThread
from storage.conversations import ConversationView, MessageView
from storage.timers import Timer
from storage.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

MIRROR = "slack.mirror"  # the job kind of a conversation's sync; its key, MIRROR:<id>
# The job kind of a delayed look at a commitment's state, which earlier versions scheduled;
# such a job left in the database asks for its conversation's sync once.
REFRESH = "slack.mirror.refresh"
BATCH = 50
# Posts made before their progress is recorded (in one transaction): a sync cut short by a
# crash repeats at most these; one cut short by an error records what it posted first.
UNRECORDED_POSTS = 5
HISTORY = 20  # messages a new thread starts with, for conversations older than the mirror
# Threads for the syncs' database work (SQLite takes one writer at a time anyway).
MIRROR_THREADS = 2
_T = TypeVar("_T")
CHANNEL_NAMES = {"sms": "SMS", "telegram": "Telegram", "slack": "Slack", "voice": "voice"}

_in_slack: ContextVar[bool] = ContextVar("partnerline_written_in_slack", default=False)


@contextlib.contextmanager
def written_in_slack() -> Iterator[None]:
    """Messages recorded in this block were typed in the Slack thread: not mirrored back."""
    token = _in_slack.set(True)
    try:
        yield
    finally:
        _in_slack.reset(token)


def version_of(message: MessageView) -> int:
    """How many times the message was edited: its text now is its `version_of`-th."""
    return len(message.edits or ())


# --- rendering -------------------------------------------------------------------------------


def _when(at: datetime | None, zone: ZoneInfo) -> str:
    return f"{at.astimezone(zone):%a %d %b %H:%M %Z}" if at is not None else "?"


def commitment_line(conv: ConversationView, zone: ZoneInfo) -> str:
    due = _when(conv.due_at, zone)
    state = conv.commitment_state
    if state is None:
        return "No reply is owed."
    return {
        "pending": f"⏳ Reply due by {due}",
        "at_risk": f"⚠️ At risk: reply due by {due}",
        "breached": f"🔴 Breached: the reply was due at {due}",
        "met": f"✅ Answered in time (due {due})",
        "unanswered": f"Closed without a reply (was due {due})",
    }.get(state, f"{state}: due {due}")


def who(conv: ConversationView) -> str:
    if conv.contact_name:
        return f"{conv.contact_name} ({conv.address})"
    return conv.address


def root_text(conv: ConversationView, zone: ZoneInfo) -> str:
    lines = [
        f"{conv.client_name} · {who(conv)} · {CHANNEL_NAMES.get(conv.channel, conv.channel)}",
        commitment_line(conv, zone),
    ]
    if conv.status == "closed":
        lines.append("Conversation closed.")
    lines.append(
        "Reply in this thread to answer the client on "
        f"{CHANNEL_NAMES.get(conv.channel, conv.channel)}; start with note: for an internal note."
    )
    return "\n".join(lines)


def root_blocks(text: str, link: str | None) -> list[dict[str, Any]]:
    first, _, rest = text.partition("\n")
    lines = [[literal(first, bold=True)], *([literal(line)] for line in rest.split("\n"))]
    if link:
        lines.append([{"type": "link", "url": link, "text": "Open in Partnerline"}])
    return [rich_text(*lines)]


def item_header(message: MessageView, conv: ConversationView, *, edit: bool = False) -> str:
    """`edit`: the item announces the message's latest edit (it was shown before)."""
    via = CHANNEL_NAMES.get(message.channel, message.channel)
    if message.direction == "in":
        # In a shared channel each member writes under their own name.
        name = message.author_name or conv.contact_name or conv.address
        edited = message.edit_of is not None or bool(message.edits)
        if edited and message.text == DELETED_TEXT:
            return f"{name} deleted a message"
        if edit or message.edit_of is not None:
            return f"{name} edited a message ({via})"
        return f"{name} ({via}), edited" if edited else f"{name} ({via})"
    if message.direction == "out":
        return f"{message.author_name or message.author_id or 'Staff'} replied ({via})"
    if message.direction == "auto":
        return f"Partnerline auto-reply ({via})"
    return f"Note by {message.author_name or message.author_id or 'staff'}"


def item_parts(
    message: MessageView, conv: ConversationView, *, edit: bool = False
) -> list[tuple[str, list[Any]]]:
    """(fallback text, blocks) of each Slack message that shows one of ours."""
    header = item_header(message, conv, edit=edit)
    body = message.text
    files = [
        "📎 " + " ".join(p for p in (a.get("name"), a.get("content_type")) if p) or "📎 attachment"
        for a in message.attachments
    ]
    if files:
        body = "\n".join([body, *files]) if body else "\n".join(files)
    parts = split_text(body) or [""]
    rendered = []
    for index, part in enumerate(parts):
        title = header if index == 0 else f"{header} (continued)"
        lines = [[literal(title, bold=True)]]
        if part:
            lines.append([literal(part)])
        rendered.append((f"{title}: {part}" if part else title, [rich_text(*lines)]))
    return rendered


# --- the mirror --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MirrorState:
    conversation: ConversationView
    thread: Posted | None
    cursor: int
    shown_root: str | None
    pending: list[MessageView]
    late: list[MessageView]
    echoes: frozenset[int]
    more: bool
    edited: list[MessageView] = field(default_factory=list)  # shown, edited since


# A root just posted, to record: the conversation as loaded, the root, its text, and the
# messages the sync's job names.
_NewRoot = tuple[ConversationView, Posted, str, list[int]]


class SlackInbox:
    def __init__(
        self,
        services: Services,
        clock: Clock,
        adapter: SlackAdapter,
        staff_channel: str,
        zone: ZoneInfo,
        public_url: str | None = None,
    ) -> None:
        self.services = services
        self.clock = clock
        self.adapter = adapter
        self.staff_channel = staff_channel
        self.zone = zone
        self.public_url = public_url.rstrip("/") if public_url else None
        # The syncs' database work queues on threads of its own: with dozens of syncs under
        # way, on the event loop's default executor it held up the worker's routing and
        # sending behind it (the acknowledgements waited for the mirror).
        self._threads = ThreadPoolExecutor(MIRROR_THREADS, thread_name_prefix="slack-mirror")
        # The looks and the roots' records of the syncs under way, a transaction for all
        # those asked for together (bot/jobs/group_commit.py).
        self._loads: GroupCommit[tuple[int, list[int]], MirrorState | None] = GroupCommit(
            self.services.glance, self._read_state, executor=self._threads, commits=False
        )
        self._roots: GroupCommit[_NewRoot, MirrorState] = GroupCommit(
            lambda: self.services.uow(durable=False, wakes=False),
            self._write_root,
            order=lambda root: root[0].id,  # rows locked in one order
            executor=self._threads,
        )

    async def _blocking(self, work: Callable[..., _T], *args: Any) -> _T:
        return await asyncio.get_running_loop().run_in_executor(
            self._threads, functools.partial(work, *args)
        )

    def job_handlers(self) -> dict[str, JobHandler]:
        """The worker's job kinds of the mirror (bot/bootstrap.py registers them)."""
        return {MIRROR: self.run_sync, REFRESH: self.run_refresh}

    # ------------------------------------------------------------------ in the transaction
    def before_commit(self, uow: UnitOfWork, new_message_ids: list[int]) -> None:
        """Ask for a sync of every conversation these messages belong to, and of every one
        whose state changed without a message (Services hook)."""
        now = self.clock.now()
        by_conversation: dict[int, list[int]] = {c: [] for c in uow.changed_conversations}
        for message_id, conversation_id in uow.conversations.conversations_of_messages(
            new_message_ids
        ):
            by_conversation.setdefault(conversation_id, []).append(message_id)
            if _in_slack.get():
                uow.channel_refs.mark_in_slack(message_id, now)
        # In the jobs' keys' order: asking locks the job's row, and transactions that lock
        # the same rows in the same order cannot deadlock (the worker ends jobs, several in
        # a transaction, in that order too).
        for conversation_id in sorted(by_conversation, key=sync_key):
            new = uow.router_store.opened_here(conversation_id)
            request_sync(uow, conversation_id, now, by_conversation[conversation_id], new=new)

    # ------------------------------------------------------------------ in the worker
    async def run_sync(self, job: Timer) -> Finish | None:
        """Bring one conversation's thread up to date (the job MIRROR:<conversation>). The job
        names the messages that asked for it: one committed after a later one was mirrored
        (behind the cursor) is still posted, and an edited one shows its edit. What its last
        posts were is recorded as the job finishes, in the same transaction."""
        ids = job.payload.get("ids")
        named = [int(i) for i in ids] if isinstance(ids, list) else []
        return await self._sync(int(job.payload["conversation"]), named)

    async def run_refresh(self, job: Timer) -> timedelta | None:
        """A delayed look left by an earlier version: its conversation's sync shows what the
        database says now."""
        await self._blocking(self._request_sync, int(job.payload["conversation"]))
        return None

    def _request_sync(self, conversation_id: int) -> None:
        with self.services.uow() as uow:
            request_sync(uow, conversation_id, self.clock.now(), [])
            uow.commit()

    async def _sync(self, conversation_id: int, named: list[int]) -> Finish | None:
        while True:
            state = await self._loads((conversation_id, named))
            if state is None:
                return None  # the conversation is gone
            if state.thread is None:
                text = root_text(state.conversation, self.zone)
                posted = await self._call(
                    self.adapter.post(
                        self.staff_channel, text, blocks=root_blocks(text, self._link(state))
                    )
                )
                state = await self._roots((state.conversation, posted, text, named))
            thread = state.thread
            assert thread is not None  # found, or just saved
            posted = await self._post_items(conversation_id, thread, state)
            named = []
            if not state.more:
                break
            # The next batch is read from where this one leaves the cursor.
            await self._blocking(self._record, conversation_id, posted, None)
        text = root_text(state.conversation, self.zone)
        shown = None
        if text != state.shown_root:
            try:
                await self._call(
                    self.adapter.update(
                        thread.channel, thread.ts, text, root_blocks(text, self._link(state))
                    )
                )
            except BaseException:
                if posted:
                    await self._blocking(self._record, conversation_id, posted, None)
                raise
            shown = text
        if not posted and shown is None:
            return None
        return Finish(functools.partial(self._write_record, conversation_id, posted, shown))

    async def _post_items(
        self, conversation_id: int, thread: Posted, state: MirrorState
    ) -> list[tuple[MessageView, bool]]:
        """Post what the state says is missing from the thread, recording what was posted
        every few posts and when a post fails (a 429 or an error ends the sync here); the
        last posts unrecorded, for the caller to record."""
        todo: list[tuple[MessageView, bool, bool]] = [  # (message, edit, advances the cursor)
            *((m, False, False) for m in state.late),  # committed after a later one was shown
            *((m, False, True) for m in state.pending),
            *((m, True, False) for m in state.edited),
        ]
        posted: list[tuple[MessageView, bool]] = []
        try:
            for message, edit, advance in todo:
                if not (advance and message.id in state.echoes):
                    await self._post_item(thread, message, state.conversation, edit=edit)
                posted.append((message, advance))
                if len(posted) >= UNRECORDED_POSTS:
                    await self._blocking(self._record, conversation_id, posted, None)
                    posted = []
        except BaseException:
            if posted:
                await self._blocking(self._record, conversation_id, posted, None)
            raise
        return posted

    async def _post_item(
        self, thread: Posted, message: MessageView, conv: ConversationView, *, edit: bool = False
    ) -> None:
        for text, blocks in item_parts(message, conv, edit=edit):
            await self._call(
                self.adapter.post(thread.channel, text, thread_ts=thread.ts, blocks=blocks)
            )

    async def _call(self, call: Any) -> Any:
        try:
            return await call
        except SendFailed:
            raise
        except Exception as exc:
            raise failure(exc, may_be_unreachable=False) from exc

    def _link(self, state: MirrorState) -> str | None:
        if not self.public_url:
            return None
        return f"{self.public_url}/inbox/conversations/{state.conversation.id}"

    def _read_state(self, uow: UnitOfWork, asked: tuple[int, list[int]]) -> MirrorState | None:
        """The state of a conversation's thread (`asked`: the conversation, and the messages
        its job names). In a glance, without one snapshot: the lease keeps other syncs of
        the thread away, and a message (with its Slack echo) committed between two reads
        asked for a sync of its own, which shows it."""
        conversation_id, named = asked
        found = uow.channel_refs.conversation_and_mirror(conversation_id)
        if found is None:
            return None
        conv, mirror = found
        if mirror is None:
            return MirrorState(conv, None, 0, None, [], [], frozenset(), False)
        root, progress = mirror
        after = uow.conversations.messages_after(conversation_id, progress.cursor, BATCH + 1)
        return self._state(uow, conv, root, progress, after, named)

    def _state(
        self,
        uow: UnitOfWork,
        conv: ConversationView,
        root: SlackThread,
        progress: MirrorProgress,
        after: Sequence[MessageView],
        named: list[int],
        *,
        new: bool = False,
    ) -> MirrorState:
        """The state of a thread whose root and progress are known, from the messages after
        its cursor (`after`: up to BATCH + 1 of them, by id). `new`: its root was posted just
        now, so none of the conversation's messages is in Slack yet (none was shown or typed
        in a thread it did not have: no read for them)."""
        conversation_id = conv.id
        thread = Posted(root.channel, root.ts)
        cursor = progress.cursor
        more = len(after) > BATCH
        pending = list(after[:BATCH])
        late_ids = [i for i in named if i <= cursor]
        echoes = (
            frozenset() if new else uow.channel_refs.in_slack([m.id for m in pending] + late_ids)
        )
        late = list(
            uow.conversations.messages_among(
                conversation_id, [i for i in late_ids if i not in echoes]
            )
        )
        edited = self._edited(uow, conversation_id, [i for i in late_ids if i in echoes])
        return MirrorState(
            conversation=conv,
            thread=thread,
            cursor=cursor,
            shown_root=progress.root_text,
            pending=pending,
            late=late,
            echoes=echoes,
            more=more,
            edited=edited,
        )

    @staticmethod
    def _edited(uow: UnitOfWork, conversation_id: int, shown: list[int]) -> list[MessageView]:
        """Which of these messages, shown in Slack already, have an edit not shown yet."""
        views = [v for v in uow.conversations.messages_among(conversation_id, shown) if v.edits]
        found = uow.channel_refs.versions_in_slack([(v.id, version_of(v)) for v in views])
        return [v for v in views if (v.id, version_of(v)) not in found]

    def _write_root(self, uow: UnitOfWork, new: _NewRoot) -> MirrorState:
        """Remember the root (`new`: the conversation as loaded, the root as posted, its
        text, the messages the job names); its thread starts with the conversation's last
        few messages. The state to go on from, read in the same transaction: the root and
        progress are what it writes, and the conversation as loaded before the root was
        posted will do (whatever changes it asks for another sync, which shows the change)."""
        conv, posted, text, named = new
        recent = uow.conversations.newest_messages(conv.id, HISTORY + 1)
        cursor = recent[HISTORY].id if len(recent) > HISTORY else 0
        root = SlackThread(posted.channel, posted.ts)
        progress = MirrorProgress(cursor=cursor, root_text=text)
        uow.channel_refs.save_slack_thread(conv.id, root, progress, self.clock.now())
        # The messages after the cursor: the newest HISTORY at most, fewer than BATCH.
        after = list(reversed(recent[:HISTORY]))
        return self._state(uow, conv, root, progress, after, named, new=True)

    def _record(
        self, conversation_id: int, posted: list[tuple[MessageView, bool]], root: str | None
    ) -> None:
        """In one transaction: these messages (each as posted: that version) are in Slack, so
        no sync posts them again; the cursor moves past those that advance it; the root's
        text as shown, if it changed."""
        with self.services.uow(durable=False, wakes=False) as uow:
            self._write_record(conversation_id, posted, root, uow)
            uow.commit()

    def _write_record(
        self,
        conversation_id: int,
        posted: list[tuple[MessageView, bool]],
        root: str | None,
        uow: UnitOfWork,
    ) -> None:
        now = self.clock.now()
        cursor = None
        shown: list[tuple[int, int]] = []
        for message, advance in posted:
            shown.append((message.id, 0))
            if version_of(message):
                shown.append((message.id, version_of(message)))
            if advance:
                cursor = max(cursor or 0, message.id)
        if shown:
            uow.channel_refs.mark_versions_in_slack(shown, now)
        if cursor is not None or root is not None:
            uow.channel_refs.advance_mirror(conversation_id, now, cursor=cursor, root_text=root)

    # ------------------------------------------------------------------ lookups
    def conversation_of_thread(self, thread: SlackThread) -> int | None:
        with self.services.uow() as uow:
            return uow.channel_refs.conversation_of_slack_thread(thread)


def sync_key(conversation_id: int) -> str:
    """The key of a conversation's sync job."""
    return f"{MIRROR}:{conversation_id}"


def request_sync(
    uow: UnitOfWork, conversation_id: int, now: datetime, ids: list[int], *, new: bool = False
) -> None:
    """Ask, in this transaction, for the sync of a conversation's thread, due at once.
    `new`: the conversation was opened in this transaction (no sync was asked for yet)."""
    uow.timers.request(
        sync_key(conversation_id),
        MIRROR,
        now,
        now,
        {"conversation": conversation_id, "ids": ids},
        likely_new=new,
    )
