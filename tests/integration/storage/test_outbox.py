"""The outbox over real SQLite and PostgreSQL: the order rule, and messages sent in parts."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from routing.messages import Channel, Delivery
from storage import schedule
from storage.db import Database
from storage.directory import sync_directory
from storage.outbox import MessagePart, OutboxItem
from storage.unit_of_work import UnitOfWork
from tests.integration.storage.test_router_store import ACME, ingest, sms
from tests.support.plans import sqlite_plan

T0 = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)
DANA, LUCY = "+13135550142", "+13135550150"


def enqueue(
    db: Database,
    to: str,
    text: str,
    at: datetime = T0,
    *,
    ordered: bool = True,
    channel: Channel = Channel.SMS,
) -> int:
    with UnitOfWork(db) as uow:
        row_id = uow.outbox.enqueue(
            kind="reply",
            channel=channel,
            recipient=to,
            payload={"text": text},
            at=at,
            ordered=ordered,
        )
        uow.commit()
    return row_id


def claim(db: Database, now: datetime = T0) -> list[OutboxItem]:
    with UnitOfWork(db) as uow:
        items = uow.outbox.claim(now, LEASE, 50)
        uow.commit()
    return items


def texts(items: list[OutboxItem]) -> list[str]:
    return sorted(str(i.payload["text"]) for i in items)


def sent(db: Database, item: OutboxItem, provider_id: str | None = None) -> None:
    with UnitOfWork(db) as uow:
        uow.outbox.mark_sent(item, provider_id or f"SM{item.id}", T0)
        uow.commit()


def retry(db: Database, item: OutboxItem, at: datetime) -> None:
    with UnitOfWork(db) as uow:
        uow.outbox.mark_retry(item, "503", at)
        uow.commit()


def failed(db: Database, item: OutboxItem) -> None:
    with UnitOfWork(db) as uow:
        uow.outbox.mark_failed(item, "21211: not a mobile number")
        uow.commit()


def next_due(db: Database) -> datetime | None:
    """When the worker next has something to do (storage/schedule.py)."""
    with db.session() as session:
        return schedule.next_due(session)


def test_a_recipients_rows_leave_one_at_a_time_in_the_order_written(database: Database) -> None:
    for n in range(3):
        enqueue(database, DANA, f"dana {n}")
        enqueue(database, LUCY, f"lucy {n}")
    first = claim(database)
    assert texts(first) == ["dana 0", "lucy 0"]  # different recipients at once
    assert claim(database) == []  # the rest wait while the first ones are being sent
    dana0, lucy0 = sorted(first, key=lambda i: i.recipient)
    sent(database, dana0)
    # Lucy's first is retried later: her second waits for it, however long that takes.
    retry(database, lucy0, T0 + timedelta(minutes=5))
    for n in (1, 2):
        [dana] = claim(database)
        assert dana.payload["text"] == f"dana {n}"
        sent(database, dana)
    assert claim(database, T0 + timedelta(minutes=1)) == []
    assert next_due(database) == T0 + timedelta(minutes=5)  # not a waiting row's past time
    assert texts(claim(database, T0 + timedelta(minutes=5))) == ["lucy 0"]


def test_a_row_that_failed_for_good_no_longer_holds_back_the_next(database: Database) -> None:
    enqueue(database, DANA, "refused")
    enqueue(database, DANA, "next")
    [first] = claim(database)
    assert claim(database) == []
    failed(database, first)
    assert texts(claim(database)) == ["next"]


def test_an_expired_lease_is_taken_again_before_anything_after_it(database: Database) -> None:
    enqueue(database, DANA, "in flight when its worker died")
    enqueue(database, DANA, "after it")
    [first] = claim(database)
    assert claim(database, T0 + LEASE - timedelta(seconds=1)) == []
    assert next_due(database) == T0 + LEASE
    [again] = claim(database, T0 + LEASE)
    assert again.id == first.id and again.uncertain


def test_a_row_scheduled_for_later_holds_back_nothing_before_its_time(
    database: Database,
) -> None:
    enqueue(database, DANA, "in an hour", T0 + timedelta(hours=1))
    enqueue(database, DANA, "now")
    [now] = claim(database)
    assert now.payload["text"] == "now"
    sent(database, now)
    later = T0 + timedelta(hours=1)
    enqueue(database, DANA, "written after it was due", later + timedelta(seconds=1))
    assert texts(claim(database, later + timedelta(seconds=2))) == ["in an hour"]


def test_unordered_rows_neither_wait_nor_hold_back(database: Database) -> None:
    for n in range(2):
        enqueue(database, "C0STAFF", f"sync {n}", ordered=False, channel=Channel.SLACK)
    enqueue(database, "C0STAFF", "a page", channel=Channel.SLACK)
    enqueue(database, "C0STAFF", "a notice", channel=Channel.SLACK)
    assert texts(claim(database)) == ["a page", "sync 0", "sync 1"]


def test_next_due_at_skips_rows_waiting_behind_a_retried_one(database: Database) -> None:
    enqueue(database, DANA, "first")
    enqueue(database, DANA, "second")
    [first] = claim(database)
    retry(database, first, T0 + timedelta(seconds=30))
    # "second" was due at T0, but it cannot go: a worker must sleep until the retry.
    assert next_due(database) == T0 + timedelta(seconds=30)


def test_concurrent_claims_take_one_row_per_recipient(database: Database) -> None:
    for n in range(10):
        enqueue(database, DANA, f"dana {n}")
    claimed: list[OutboxItem] = []
    start = threading.Barrier(4)
    lock = threading.Lock()

    def worker() -> None:
        start.wait()
        items = claim(database)
        with lock:
            claimed.extend(items)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert texts(claimed) == ["dana 0"]


# --- parts ----------------------------------------------------------------------------------


def staff_message(
    db: Database, texts: list[str], payload: dict[str, str], delivery: Delivery | None
) -> tuple[int, tuple[MessagePart, ...]]:
    """A staff reply to Dana sent in these parts: its id and its parts as enqueued."""
    with UnitOfWork(db) as uow:
        sync_directory(uow.session, [ACME], T0)
        uow.commit()
    conversation = ingest(db, sms("SM-in")).conversation
    with UnitOfWork(db) as uow:
        message = uow.conversations.add_message(
            conversation.id,
            direction="out",
            channel="sms",
            text=payload["text"],
            author_type="staff",
            author_id="ana",
            author_name="Ana",
            at=T0,
            delivery=delivery,
        )
        parts = uow.outbox.enqueue_parts(
            texts,
            kind="reply",
            channel=Channel.SMS,
            recipient=DANA,
            payload=payload,
            at=T0,
            message_id=message.id,
        )
        uow.commit()
    return message.id, parts


@pytest.fixture
def message_id(database: Database) -> int:
    payload = {"text": "three parts", "status_callback": "http://x/status"}
    message, parts = staff_message(database, ["one", "two", "three"], payload, Delivery.QUEUED)
    assert parts == tuple(MessagePart(i, "queued") for i in range(3))
    return message


def view(db: Database, message_id: int):  # type: ignore[no-untyped-def]
    with UnitOfWork(db) as uow:
        found = uow.conversations.message(message_id)
        assert found is not None
        return found


def status(db: Database, provider_id: str, delivery: Delivery, error: str | None = None) -> bool:
    with UnitOfWork(db) as uow:
        changed = uow.conversations.apply_delivery_status(Channel.SMS, provider_id, delivery, error)
        uow.commit()
    return changed


def test_parts_go_in_order_and_the_message_is_as_far_as_its_least_part(
    database: Database, message_id: int
) -> None:
    order = []
    for n in range(3):
        [item] = claim(database)
        assert claim(database) == []  # the next part waits until this one was accepted
        assert item.message_id == message_id and item.part == n
        assert item.payload["status_callback"] == "http://x/status"
        order.append(item.payload["text"])
        sent(database, item, f"SM{n}")
        expected = "sent" if n == 2 else "queued"
        assert view(database, message_id).delivery == expected
    assert order == ["one", "two", "three"]
    msg = view(database, message_id)
    assert msg.provider_id == "SM0"  # the message's id at the provider is its first part's
    assert [(p.delivery, p.provider_id) for p in msg.parts] == [
        ("sent", "SM0"),
        ("sent", "SM1"),
        ("sent", "SM2"),
    ]
    # Callbacks move each part forward; the message is delivered once every part is.
    assert status(database, "SM2", Delivery.DELIVERED)
    assert status(database, "SM0", Delivery.DELIVERED)
    assert not status(database, "SM0", Delivery.SENT)  # a late "sent" changes nothing
    assert view(database, message_id).delivery == "sent"
    assert status(database, "SM1", Delivery.DELIVERED)
    assert view(database, message_id).delivery == "delivered"
    assert not status(database, "SM1", Delivery.FAILED, "30005")  # terminal states stay
    assert view(database, message_id).delivery == "delivered"
    assert not status(database, "SM-unknown", Delivery.DELIVERED)


def test_a_failed_part_fails_the_rest_and_lets_the_next_message_go(
    database: Database, message_id: int
) -> None:
    enqueue(database, DANA, "the next message", T0 + timedelta(seconds=1))
    [first] = claim(database)
    sent(database, first, "SM0")
    [second] = claim(database)
    assert second.part == 1
    failed(database, second)
    msg = view(database, message_id)
    assert msg.delivery == "failed"
    assert msg.error == "part 2 of 3: 21211: not a mobile number"
    assert [p.delivery for p in msg.parts] == ["sent", "failed", "failed"]
    assert msg.parts[2].error == "not sent: part 2 failed"
    # Half a message helps nobody: the rest is not sent, and the next message goes.
    assert texts(claim(database, T0 + timedelta(seconds=1))) == ["the next message"]


def test_a_delivery_failure_callback_names_the_part(database: Database, message_id: int) -> None:
    for n in range(3):
        [item] = claim(database)
        sent(database, item, f"SM{n}")
    assert status(database, "SM1", Delivery.FAILED, "30006")
    msg = view(database, message_id)
    assert msg.delivery == "failed" and msg.error == "part 2 of 3: 30006"


@pytest.mark.parametrize("delivery", [Delivery.QUEUED, None])
def test_a_one_part_message_is_recorded_sent_without_reading_its_parts(
    database: Database, delivery: Delivery | None
) -> None:
    """The message's only part: its record sets the message's provider id and delivery in
    one UPDATE; a message kept without delivery tracking keeps none."""
    message_id, _ = staff_message(database, ["one part"], {"text": "one part"}, delivery)
    [item] = claim(database)
    sent(database, item, "SM-one")
    msg = view(database, message_id)
    assert msg.provider_id == "SM-one"
    if delivery is None:
        assert msg.delivery is None
        return
    assert [(p.delivery, p.provider_id) for p in msg.parts] == [("sent", "SM-one")]
    assert msg.delivery == "sent"
    assert status(database, "SM-one", Delivery.DELIVERED)  # the callback finds it by that id
    assert view(database, message_id).delivery == "delivered"


def test_the_order_rule_is_served_by_an_index(database: Database) -> None:
    """The claim's look-up of an earlier unfinished row must not scan the table."""
    plan = sqlite_plan(
        database,
        "SELECT 1 FROM outbox AS earlier WHERE earlier.channel = 'sms' AND "
        "earlier.recipient = '+1' AND earlier.state IN ('pending', 'sending') AND "
        "earlier.created_at <= '2026'",
    )
    assert "ix_outbox_recipient_order" in plan, plan


def test_the_idle_workers_look_holds_no_lock_and_sees_each_commit(database: Database) -> None:
    """An idle worker asks what is due every second on a connection it keeps: that must not
    keep a transaction (on SQLite, the write lock) open, nor a stale snapshot."""
    look = schedule.NextDue(database.engine)
    try:
        assert look() is None
        enqueue(database, DANA, "written meanwhile")  # would wait for a held SQLite lock
        assert look() == T0
        [item] = claim(database)
        retry(database, item, T0 + timedelta(minutes=2))
        assert look() == T0 + timedelta(minutes=2)
    finally:
        look.close()
