"""A routed batch marks its journal rows routed, each with the message it filed, in a
statement per ROWS_PER_INSERT rows (`InboundQueue.mark_routed_many`); when a delivery fails,
the batch is done again a part at a time, and the others are marked as before."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from bot.jobs.worker import Worker
from routing.clock import FrozenClock
from routing.messages import Channel, InboundMessage
from routing.router import Router
from storage.db import Database
from storage.inbound import JournalEntry, _routed_rows, write_batch
from storage.tables import InboundDeliveryRow, MessageRow
from storage.unit_of_work import UnitOfWork
from storage.upsert import ROWS_PER_INSERT
from tests.support.plans import ran_prepared

T0 = datetime(2026, 12, 8, 2, 0, tzinfo=UTC)
COUNT = ROWS_PER_INSERT + 3  # two statements: a full one and a short one


def journal(db: Database, failing: str | None = None) -> None:
    """COUNT deliveries: even ones file a message, odd ones file nothing (a button, say)."""
    entries = [
        JournalEntry(
            Channel.SMS,
            f"SM{n}",
            "test.file" if n % 2 == 0 else "test.nothing",
            {"n": n, "fail": f"SM{n}" == failing},
            T0,
        )
        for n in range(COUNT)
    ]
    with db.write_connection() as conn:
        write_batch(conn, entries)


def worker(db: Database) -> Worker:
    def file(uow: UnitOfWork, payload: dict[str, Any], now: datetime) -> None:
        if payload["fail"]:
            raise RuntimeError("this one fails")
        sender = f"+1313555{payload['n']:04d}"
        msg = InboundMessage(Channel.SMS, f"SM{payload['n']}", sender, "hello", now)
        Router(uow.router_store).ingest(msg, claimed=True)

    def nothing(_uow: UnitOfWork, payload: dict[str, Any], _now: datetime) -> None:
        if payload["fail"]:
            raise RuntimeError("this one fails")

    handlers = {"test.file": file, "test.nothing": nothing}
    return Worker(db, FrozenClock(T0), {}, inbound_handlers=handlers)


def marks(db: Database) -> dict[str, tuple[str, str | None]]:
    """Each delivery's state, and the provider id of the message it is marked with."""
    with UnitOfWork(db) as uow:
        rows = uow.session.execute(
            select(
                InboundDeliveryRow.delivery_key, InboundDeliveryRow.state, MessageRow.provider_id
            ).outerjoin(MessageRow, MessageRow.id == InboundDeliveryRow.message_id)
        ).all()
    return {key: (state, provider_id) for key, state, provider_id in rows}


def expected(failing: str | None = None) -> dict[str, tuple[str, str | None]]:
    return {
        f"SM{n}": ("pending", None)
        if f"SM{n}" == failing
        else ("routed", f"SM{n}" if n % 2 == 0 else None)
        for n in range(COUNT)
    }


def test_a_batch_is_marked_routed_each_with_its_message(database: Database) -> None:
    journal(database)

    assert worker(database).route_inbound() == COUNT

    assert marks(database) == expected()
    # Two statements, one for each chunk, both on the prepared path.
    assert ran_prepared(_routed_rows(ROWS_PER_INSERT)) and ran_prepared(_routed_rows(3))


def test_with_a_failing_delivery_the_others_are_marked_a_part_at_a_time(
    database: Database,
) -> None:
    journal(database, failing="SM4")

    assert worker(database).route_inbound() == COUNT

    assert marks(database) == expected(failing="SM4")
