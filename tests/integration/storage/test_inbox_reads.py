"""What the web inbox reads, on real SQLite and PostgreSQL: each row's last message, pages
newest opened first, and the fingerprint its live updates poll."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.http.web.inbox_query import inbox_queries
from routing.commitments import Commitment, Event, State
from routing.directory import ClientEntry, ContactEntry
from routing.messages import Channel, Delivery, InboundMessage
from routing.router import Router
from storage.db import Database
from storage.directory import sync_directory
from storage.tables import MessageRow
from storage.unit_of_work import UnitOfWork

T0 = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
M = timedelta(minutes=1)
ACME = ClientEntry(
    id="acme",
    name="Acme Robotics",
    commitment="priority",
    escalation=None,
    timezone=None,
    account_team=(),
    contacts=(
        ContactEntry("Dana Reyes", ((Channel.SMS, "+13135550142"),)),
        ContactEntry("George Hill", ((Channel.SMS, "+13135550143"),)),
    ),
)


@pytest.fixture
def db(database: Database) -> Database:
    with UnitOfWork(database) as uow:
        sync_directory(uow.session, [ACME], T0)
        uow.commit()
    return database


def conversation(db: Database, address: str, text: str, at: datetime) -> tuple[int, int]:
    """A client's SMS filed through the router: (its conversation, its message)."""
    msg = InboundMessage(Channel.SMS, f"SM-{address}-{at.timestamp()}", address, text, at)
    with UnitOfWork(db) as uow:
        result = Router(uow.router_store).ingest(msg, None)
        uow.commit()
    assert result.conversation is not None and result.message_id is not None
    return result.conversation.id, result.message_id


def reply(db: Database, conversation_id: int, text: str, at: datetime) -> int:
    with UnitOfWork(db) as uow:
        view = uow.conversations.add_message(
            conversation_id,
            direction="out",
            channel="sms",
            text=text,
            author_type="staff",
            author_id="ana",
            author_name="Ana",
            at=at,
            delivery=Delivery.QUEUED,
        )
        uow.commit()
    return view.id


def open_page(db: Database, conversation_id: int, at: datetime) -> int:
    with UnitOfWork(db) as uow:
        page_id = uow.pages.open(
            conversation_id=conversation_id,
            commitment_id=None,
            client_id="acme",
            policy={},
            summary="Dana is waiting",
            at=at,
        )
        uow.commit()
    assert page_id is not None
    return page_id


def fingerprint(db: Database, conversation_id: int | None = None) -> str:
    with UnitOfWork(db) as uow:
        return uow.live.fingerprint(conversation_id)


def test_last_messages_gives_each_conversations_newest_message(db: Database) -> None:
    dana, _ = conversation(db, "+13135550142", "the robot stopped", T0)
    george, only = conversation(db, "+13135550143", "invoice?", T0 + M)
    answer = reply(db, dana, "on it", T0 + 2 * M)
    with UnitOfWork(db) as uow:
        last = uow.conversations.last_messages([dana, george])
        assert uow.conversations.last_messages([]) == {}
        assert uow.conversations.last_messages([george]).keys() == {george}
    assert {c: (m.id, m.text) for c, m in last.items()} == {
        dana: (answer, "on it"),
        george: (only, "invoice?"),
    }


def test_the_inbox_previews_the_clients_words_not_the_acknowledgement(db: Database) -> None:
    dana, asked = conversation(db, "+13135550142", "the robot stopped", T0)
    with UnitOfWork(db) as uow:  # the after-hours acknowledgement, and a note, after it
        for direction, author in (("auto", "system"), ("note", "staff")):
            uow.conversations.add_message(
                dana,
                direction=direction,
                channel="sms",
                text=f"{direction} text",
                author_type=author,
                author_id=None,
                author_name=None,
                at=T0 + M,
                delivery=Delivery.QUEUED if direction == "auto" else None,
            )
        uow.commit()
    with UnitOfWork(db) as uow:
        assert inbox_queries(uow).last_messages([dana])[dana].id == asked
    answer = reply(db, dana, "on it", T0 + 2 * M)  # a staff reply, newer, is the headline
    with UnitOfWork(db) as uow:
        assert inbox_queries(uow).last_messages([dana])[dana].id == answer


def test_recent_pages_are_newest_opened_first_under_their_filters(db: Database) -> None:
    dana, _ = conversation(db, "+13135550142", "down", T0)
    george, _ = conversation(db, "+13135550143", "down too", T0)
    first = open_page(db, dana, T0 + 2 * M)
    # Opened later although its id is lower than the next one's: the order is by time.
    later = open_page(db, george, T0 + 5 * M)
    with UnitOfWork(db) as uow:
        uow.pages.resolve(first, T0 + 3 * M)
        uow.commit()
    again = open_page(db, dana, T0 + 4 * M)
    with UnitOfWork(db) as uow:
        pages = uow.pages
        assert [p.id for p in pages.recent()] == [later, again, first]
        assert [p.id for p in pages.recent(conversation_id=dana)] == [again, first]
        assert [p.id for p in pages.recent(state="open")] == [later, again]
        assert [p.id for p in pages.recent(conversation_id=dana, state="resolved")] == [first]
        assert [p.id for p in pages.recent(limit=1)] == [later]
        assert pages.recent(conversation_id=dana + george + 1) == []


def test_the_inbox_shows_a_pages_notifications_when_sent_else_when_due(db: Database) -> None:
    dana, _ = conversation(db, "+13135550142", "down", T0)
    page = open_page(db, dana, T0)
    with UnitOfWork(db) as uow:
        for step, (staff, due) in enumerate((("ana", T0 + M), ("raj", T0 + 9 * M)), start=1):
            uow.pages.schedule_notification(
                key=f"{page}:{step}",
                page_id=page,
                staff_id=staff,
                channel="sms",
                step=step,
                due_at=due,
            )
        ana = uow.pages.due_notifications("ana", "sms", T0 + M)[0]
        outbox_id = uow.outbox.enqueue(
            kind="page",
            channel=Channel.SMS,
            recipient="+13135550100",
            payload={"text": "page"},
            at=T0 + M,
        )
        uow.pages.mark_sent([ana.id], outbox_id, T0 + 2 * M)
        uow.commit()
    with UnitOfWork(db) as uow:
        [entry] = inbox_queries(uow).pages(conversation_id=dana)
    assert entry.id == page and entry.summary == "Dana is waiting"
    assert entry.notifications == [
        {"staff": "ana", "channel": "sms", "step": 1, "at": T0 + 2 * M, "state": "sent"},
        {"staff": "raj", "channel": "sms", "step": 2, "at": T0 + 9 * M, "state": "scheduled"},
    ]


def test_the_fingerprint_changes_with_what_the_inbox_shows(db: Database) -> None:
    empty = fingerprint(db)
    assert len(empty) == 20 and fingerprint(db) == empty  # nothing changed, same value
    seen = {empty}

    def changed() -> None:
        value = fingerprint(db)
        assert value not in seen
        seen.add(value)

    dana, _ = conversation(db, "+13135550142", "down", T0)
    changed()  # a message and an open conversation
    with UnitOfWork(db) as uow:
        uow.conversations.set_status(dana, "closed", T0 + M)
        uow.commit()
    changed()
    with UnitOfWork(db) as uow:
        due = T0 + 30 * M
        started = uow.commitments.start(
            Commitment(None, dana, "priority", State.PENDING, False, T0, due, due - 5 * M), None
        )
        assert started is not None and started.id is not None
        uow.commit()
    changed()  # a commitment event
    with UnitOfWork(db) as uow:
        uow.commitments.add_events(started.id, [Event(State.AT_RISK, T0 + 25 * M)])
        uow.commit()
    changed()
    page = open_page(db, dana, T0 + 26 * M)
    changed()
    with UnitOfWork(db) as uow:
        uow.pages.set_position(page, 1, 0)
        uow.commit()
    changed()
    with UnitOfWork(db) as uow:
        assert uow.pages.acknowledge(page, "ana", T0 + 27 * M)
        uow.commit()
    changed()
    with UnitOfWork(db) as uow:
        uow.pages.resolve(page, T0 + 28 * M)
        uow.commit()
    changed()


def test_a_conversations_fingerprint_also_follows_its_deliveries(db: Database) -> None:
    dana, _ = conversation(db, "+13135550142", "down", T0)
    george, _ = conversation(db, "+13135550143", "down too", T0)
    sent = reply(db, dana, "on it", T0 + M)
    inbox, of_dana, of_george = fingerprint(db), fingerprint(db, dana), fingerprint(db, george)
    assert of_dana != inbox
    with UnitOfWork(db) as uow:  # what a provider's status callback changes, and nothing else
        row = uow.session.get(MessageRow, sent)
        assert row is not None
        row.delivery = Delivery.DELIVERED.value
        uow.commit()
    assert fingerprint(db) == inbox and fingerprint(db, george) == of_george
    assert fingerprint(db, dana) != of_dana
