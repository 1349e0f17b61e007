"""What the chat apps keep and find, on real SQLite and PostgreSQL: the channel references
(storage/channel_refs.py), the migration that made them typed rows, and a page's chat
messages (storage/pages.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import create_engine, select

from routing.directory import ClientEntry, ContactEntry
from routing.messages import Channel, InboundMessage
from routing.router import Router
from storage.channel_refs import ChannelRefs, MirrorProgress, SlackThread
from storage.db import Database, normalise_url
from storage.directory import sync_directory
from storage.migrate import alembic_config, upgrade
from storage.outbox import OutboxItem
from storage.tables import SlackEchoRow, SlackThreadRow
from storage.types import UTCDateTime
from storage.unit_of_work import UnitOfWork

T0 = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=5)
ACME = ClientEntry(
    id="acme",
    name="Acme Robotics",
    commitment="priority",
    escalation=None,
    timezone=None,
    account_team=(),
    contacts=(ContactEntry("Dana Reyes", ((Channel.SMS, "+13135550142"),)),),
)
ROOT = SlackThread("C0INBOX000", "1700000000.000100")


def mirror(refs: ChannelRefs, conversation_id: int) -> tuple[SlackThread, MirrorProgress] | None:
    """The conversation's thread and progress, as the mirror reads them."""
    found = refs.conversation_and_mirror(conversation_id)
    assert found is not None, "no such conversation"
    return found[1]


def test_a_thread_is_found_both_ways_and_its_progress_never_goes_back(database: Database) -> None:
    with UnitOfWork(database) as uow:
        conv = _conversation(uow)
        refs = uow.channel_refs
        assert mirror(refs, conv) is None
        refs.save_slack_thread(conv, ROOT, MirrorProgress(cursor=3, root_text="Acme · Dana"), T0)
        uow.commit()
    with UnitOfWork(database) as uow:
        refs = uow.channel_refs
        assert mirror(refs, conv) == (ROOT, MirrorProgress(3, "Acme · Dana"))
        assert refs.conversation_of_slack_thread(ROOT) == conv
        assert refs.conversation_of_slack_thread(SlackThread("C0INBOX000", "1.2")) is None
        refs.advance_mirror(conv, T1, cursor=9)
        refs.advance_mirror(conv, T1, cursor=5)  # a slower sync: the cursor stays at 9
        refs.advance_mirror(conv, T1, root_text="Acme · Dana · closed")
        uow.commit()
    with UnitOfWork(database) as uow:
        assert mirror(uow.channel_refs, conv) == (
            ROOT,
            MirrorProgress(9, "Acme · Dana · closed"),
        )
        # One typed row holds the root and the progress.
        [row] = uow.session.execute(select(SlackThreadRow)).scalars().all()
        assert (row.conversation_id, row.channel, row.ts) == (conv, ROOT.channel, ROOT.ts)
        assert (row.created_at, row.updated_at) == (T0, T1)


def test_the_mirrors_look_reads_the_conversation_and_its_thread_at_once(
    database: Database,
) -> None:
    with UnitOfWork(database) as uow:
        conv = _conversation(uow)
        view = uow.conversations.get(conv)
        assert view is not None
        assert uow.channel_refs.conversation_and_mirror(conv) == (view, None)
        uow.channel_refs.save_slack_thread(conv, ROOT, MirrorProgress(4, "Acme · Dana"), T0)
        assert uow.channel_refs.conversation_and_mirror(conv) == (
            view,
            (ROOT, MirrorProgress(4, "Acme · Dana")),
        )
        assert uow.channel_refs.conversation_and_mirror(conv + 1) is None
        uow.commit()


def test_a_root_posted_again_replaces_the_thread_and_its_progress(database: Database) -> None:
    again = SlackThread("C0INBOX000", "1700000001.000100")
    with UnitOfWork(database) as uow:
        conv = _conversation(uow)
        uow.channel_refs.save_slack_thread(conv, ROOT, MirrorProgress(7, "old"), T0)
        uow.channel_refs.save_slack_thread(conv, again, MirrorProgress(2, "new"), T1)
        uow.commit()
    with UnitOfWork(database) as uow:
        refs = uow.channel_refs
        assert mirror(refs, conv) == (again, MirrorProgress(2, "new"))
        assert refs.conversation_of_slack_thread(again) == conv
        row = uow.session.get(SlackThreadRow, conv)
        assert row is not None and (row.created_at, row.updated_at) == (T0, T1)


def test_progress_without_a_thread_is_refused(database: Database) -> None:
    with UnitOfWork(database) as uow:
        conv = _conversation(uow)
        with pytest.raises(LookupError):
            uow.channel_refs.advance_mirror(conv, T0, cursor=3)


def test_markers_are_claimed_once(database: Database) -> None:
    with UnitOfWork(database) as uow:
        _conversation(uow)
        first, second, third = _messages(uow, 3)
        refs = uow.channel_refs
        refs.mark_in_slack(first, T0)
        refs.mark_in_slack(first, T0)  # twice: still one marker, and no error
        refs.mark_in_slack(second, T0, version=2)
        uow.commit()
    with UnitOfWork(database) as uow:
        refs = uow.channel_refs
        assert refs.in_slack([first, second, third]) == {first}
        assert refs.in_slack([]) == frozenset()
        assert refs.versions_in_slack([(first, 0), (second, 1), (second, 2)]) == {
            (first, 0),
            (second, 2),
        }
        assert refs.versions_in_slack([]) == set()
        echoes = uow.session.execute(select(SlackEchoRow.message_id, SlackEchoRow.version)).all()
    assert sorted(tuple(e) for e in echoes) == [(first, 0), (second, 2)]


def _conversation(uow: UnitOfWork) -> int:
    sync_directory(uow.session, [ACME], T0)
    msg = InboundMessage(Channel.SMS, "SM1", "+13135550142", "Help!", T0)
    result = Router(uow.router_store).ingest(msg)
    assert result.conversation is not None
    return result.conversation.id


def _messages(uow: UnitOfWork, count: int) -> list[int]:
    """`count` more messages of Dana's (after `_conversation`)."""
    ids = []
    for n in range(count):
        msg = InboundMessage(Channel.SMS, f"SM{n + 2}", "+13135550142", f"Also {n}", T0)
        result = Router(uow.router_store).ingest(msg)
        assert result.message_id is not None
        ids.append(result.message_id)
    return ids


def _sent_page_message(
    uow: UnitOfWork,
    page_ids: list[int],
    channel: Channel,
    chat: str,
    provider_id: str | None,
    notes: list[int],
) -> None:
    """A page message as paging and the worker record it: the outbox row, the notifications
    it went out for, and (if the channel took it) the provider's id."""
    payload: dict[str, Any] = {
        "text": f"Page {page_ids[0]}: Dana wrote",
        "page_id": page_ids[0],
        "page_ids": page_ids,
    }
    row = uow.outbox.enqueue(
        kind="page", channel=channel, recipient=chat, payload=payload, at=T0 + timedelta(days=1)
    )
    uow.pages.mark_sent(notes, row, T0)
    if provider_id is not None:
        item = OutboxItem(row, "page", channel, chat, payload, 1, None, T0)
        uow.outbox.mark_sent(item, provider_id, T0)


def test_a_pages_chat_messages_are_those_its_notifications_went_out_with(
    database: Database,
) -> None:
    with UnitOfWork(database) as uow:
        conversation_id = _conversation(uow)
        first = uow.pages.open(
            conversation_id=conversation_id,
            commitment_id=None,
            client_id="acme",
            policy={},
            summary="{}",
            at=T0,
        )
        assert first is not None
        uow.pages.resolve(first, T0)  # so that the conversation may have a second open page
        second = uow.pages.open(
            conversation_id=conversation_id,
            commitment_id=None,
            client_id="acme",
            policy={},
            summary="{}",
            at=T0,
        )
        assert second is not None

        keys = iter(range(100))

        def note(page_id: int, staff: str, channel: str) -> int:
            note_id = uow.pages.schedule_notification(
                key=f"{page_id}:{staff}:{channel}:{next(keys)}",
                page_id=page_id,
                staff_id=staff,
                channel=channel,
                step=1,
                due_at=T0,
            )
            assert note_id is not None
            return note_id

        ana, jim = note(first, "ana", "telegram"), note(first, "jim", "telegram")
        jim_slack, kim_slack = note(first, "jim", "slack"), note(first, "kim", "slack")
        other, ana_again = note(second, "ana", "telegram"), note(first, "ana", "telegram")
        _sent_page_message(uow, [first], Channel.TELEGRAM, "100000002", "100000002:5", [ana])
        _sent_page_message(uow, [first], Channel.TELEGRAM, "100000001", "100000001:8", [jim])
        _sent_page_message(uow, [first], Channel.SLACK, "D0JIMMILLR", "D0JIMMILLR:1.1", [jim_slack])
        _sent_page_message(uow, [first], Channel.SLACK, "D0KIMLEE00", None, [kim_slack])  # unsent
        # Later, one message telling Ana of both pages (coalesced): the second's button is on it.
        _sent_page_message(
            uow, [second, first], Channel.TELEGRAM, "100000002", "100000002:9", [other, ana_again]
        )
        uow.commit()

    with UnitOfWork(database) as uow:
        telegram = uow.pages.sent_chat_messages(first, Channel.TELEGRAM)
        slack = uow.pages.sent_chat_messages(first, Channel.SLACK)
        page_of = uow.pages.page_of_sent_message
        assert page_of(Channel.TELEGRAM, "100000002", "100000002:9") == second
        assert page_of(Channel.TELEGRAM, "100000002", "100000002:5") == first
        assert page_of(Channel.TELEGRAM, "100000001", "100000002:5") is None  # not that chat
        assert uow.pages.sent_chat_messages(second, Channel.SLACK) == []
    # Newest first, each once, the coalesced one too (it tells of both pages).
    assert [(m.recipient, m.provider_id, m.page_ids) for m in telegram] == [
        ("100000002", "100000002:9", (second, first)),
        ("100000001", "100000001:8", (first,)),
        ("100000002", "100000002:5", (first,)),
    ]
    assert [m.page_id for m in telegram] == [second, first, first]
    assert telegram[1].text == f"Page {first}: Dana wrote"
    assert [(m.recipient, m.provider_id) for m in slack] == [("D0JIMMILLR", "D0JIMMILLR:1.1")]


# --- migration 0009: the key/value channel_refs become typed rows ------------------------------

OLD = "0008"  # storage/migrations/versions/20261207_0100_mirror_jobs.py
THREAD_1 = SlackThread("C0INBOX000", "1700000000.000100")
THREAD_2 = SlackThread("C0INBOX000", "1700000000.000200")
UNRECOGNISED = ["telegram:page:3", "slack:echo:abc", "slack:thread:x", "slack:echo:10:v0"]


def _old_rows(url: str) -> dict[str, dict[str, Any]]:
    """Conversations 1-3, messages 10-12, commitment 4, and channel_refs of every scheme as
    the code before 0009 wrote them; the refs, by key."""
    t = {"created_at": T0}
    refs: dict[str, dict[str, Any]] = {
        # Conversation 1: a root, found both ways, and progress.
        "slack:thread:1": {"channel": THREAD_1.channel, "ts": THREAD_1.ts},
        f"slack:root:{THREAD_1.channel}:{THREAD_1.ts}": {"conversation_id": 1},
        "slack:mirror:1": {"cursor": 11, "root": "Acme · Dana"},
        # Conversation 2: its thread key lost, the root key says where its thread is.
        f"slack:root:{THREAD_2.channel}:{THREAD_2.ts}": {"conversation_id": 2},
        "slack:mirror:2": {"cursor": 0, "root": None},
        # Conversation 3: progress without a root; conversation 99: none such.
        "slack:mirror:3": {"cursor": 5, "root": "lost"},
        "slack:thread:99": {"channel": "C0INBOX000", "ts": "1700000000.000900"},
        "slack:refresh:4": {},  # dropped: the mirror no longer queues delayed looks
        "slack:echo:10": {},
        "slack:echo:11": {},
        "slack:echo:11:v2": {},
        "slack:echo:999": {},  # no such message (0006 folded it, say)
        **{key: {} for key in UNRECOGNISED},
    }
    engine = create_engine(normalise_url(url))
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.insert(sa.table("clients", *_columns("id name commitment account_team active"))),
                {"id": "acme", "name": "Acme", "commitment": "priority"}
                | {"account_team": [], "active": True},
            )
            conn.execute(
                sa.insert(sa.table("contacts", *_columns("id client_id created_at"))),
                {"id": 1, "client_id": "acme", **t},
            )
            conversations = "id contact_id channel chat_id status created_at updated_at"
            conn.execute(
                sa.insert(sa.table("conversations", *_columns(conversations))),
                [
                    {"id": c, "contact_id": 1, "channel": "sms", "chat_id": f"+1313555014{c}"}
                    | {"status": "open", "updated_at": T0, **t}
                    for c in (1, 2, 3)
                ],
            )
            messages = "id conversation_id direction channel text author_type attachments"
            conn.execute(
                sa.insert(sa.table("messages", *_columns(f"{messages} created_at"))),
                [
                    {"id": m, "conversation_id": 1, "direction": "in", "channel": "sms"}
                    | {"text": "Help!", "author_type": "contact", "attachments": [], **t}
                    for m in (10, 11, 12)
                ],
            )
            commitments = "id conversation_id tier state awaiting after_hours"
            conn.execute(
                sa.insert(
                    sa.table(
                        "commitments",
                        *_columns(f"{commitments} started_at due_at at_risk_at"),
                    )
                ),
                {"id": 4, "conversation_id": 1, "tier": "priority", "state": "pending"}
                | {"awaiting": True, "after_hours": False, "started_at": T0}
                | {"due_at": T0 + timedelta(hours=1), "at_risk_at": T0 + timedelta(minutes=45)},
            )
            conn.execute(
                sa.insert(sa.table("channel_refs", *_columns("key value created_at updated_at"))),
                [
                    # The mirror's progress moved after the root was saved.
                    {"key": k, "value": v, **t, "updated_at": T1 if "mirror" in k else T0}
                    for k, v in refs.items()
                ],
            )
    finally:
        engine.dispose()
    return refs


def _columns(names: str) -> list[sa.ColumnClause[Any]]:
    """JSON and UTC times typed as the migrations made them (so they behave the same on
    both); the others as the driver binds the Python value."""
    json = {"value", "account_team", "attachments"}
    return [
        sa.column(n, UTCDateTime() if n.endswith("_at") else sa.JSON() if n in json else None)
        for n in names.split()
    ]


def test_the_migration_turns_channel_refs_into_typed_rows(empty_url: str) -> None:
    upgrade(empty_url, OLD)
    old = _old_rows(empty_url)
    upgrade(empty_url)
    db = Database(empty_url)
    try:
        with UnitOfWork(db) as uow:
            threads = uow.session.execute(select(SlackThreadRow)).scalars().all()
            assert [
                (r.conversation_id, r.channel, r.ts, r.cursor, r.root_text, r.updated_at)
                for r in sorted(threads, key=lambda r: r.conversation_id)
            ] == [
                (1, THREAD_1.channel, THREAD_1.ts, 11, "Acme · Dana", T1),
                (2, THREAD_2.channel, THREAD_2.ts, 0, None, T1),
            ]
            assert all(r.created_at == T0 for r in threads)
            echoes = uow.session.execute(select(SlackEchoRow.message_id, SlackEchoRow.version))
            assert sorted(tuple(e) for e in echoes) == [(10, 0), (11, 0), (11, 2)]
            # What the mirror asks of them reads as it read the keys.
            refs = uow.channel_refs
            assert mirror(refs, 1) == (THREAD_1, MirrorProgress(11, "Acme · Dana"))
            assert mirror(refs, 3) is None
            assert refs.conversation_of_slack_thread(THREAD_2) == 2
            assert refs.in_slack([10, 11, 12]) == {10, 11}
            assert refs.versions_in_slack([(11, 1), (11, 2)]) == {(11, 2)}
        assert "channel_refs" not in sa.inspect(db.engine).get_table_names()
    finally:
        db.dispose()

    # And back: the keys the typed rows stand for, as the code before wrote them.
    command.downgrade(alembic_config(empty_url), OLD)
    engine = create_engine(normalise_url(empty_url))
    try:
        refs_table = sa.table("channel_refs", *_columns("key value"))
        with engine.connect() as conn:
            back = {r.key: r.value for r in conn.execute(sa.select(refs_table))}
        tables = sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()
    kept = {
        k: v
        for k, v in old.items()
        if k not in UNRECOGNISED
        and k not in {"slack:mirror:3", "slack:thread:99", "slack:refresh:4", "slack:echo:999"}
    }
    kept["slack:thread:2"] = {"channel": THREAD_2.channel, "ts": THREAD_2.ts}
    assert back == kept
    assert not {"slack_threads", "slack_echoes"} & set(tables)
