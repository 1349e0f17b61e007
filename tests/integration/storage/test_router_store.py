"""The router over real SQLite and PostgreSQL: filing, dedupe, triage, races."""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from routing.directory import ClientEntry, ContactEntry
from routing.messages import Channel, InboundMessage, OptKeyword
from routing.router import Outcome, Router
from storage.db import Database
from storage.directory import sync_directory
from storage.tables import ContactRow, ConversationRow, IdentityRow, MessageRow
from storage.unit_of_work import UnitOfWork

T0 = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
ACME = ClientEntry(
    id="acme",
    name="Acme Robotics",
    commitment="priority",
    escalation="default",
    timezone=None,
    account_team=("ana",),
    contacts=(
        ContactEntry(
            "Dana Reyes", ((Channel.SMS, "+13135550142"), (Channel.TELEGRAM, "200000042"))
        ),
    ),
)


def sms(
    sid: str,
    sender: str = "+13135550142",
    text: str = "hello",
    at: datetime = T0,
    keyword: OptKeyword | None = None,
) -> InboundMessage:
    return InboundMessage(Channel.SMS, sid, sender, text, at, opt_keyword=keyword)


def ingest(db: Database, msg: InboundMessage):  # type: ignore[no-untyped-def]
    with UnitOfWork(db) as uow:
        result = Router(uow.router_store).ingest(msg)
        uow.commit()
        return result


def count(db: Database, model: type) -> int:
    with db.session() as s:
        return s.execute(select(func.count()).select_from(model)).scalar_one()


@pytest.fixture
def db(database: Database) -> Database:
    with UnitOfWork(database) as uow:
        sync_directory(uow.session, [ACME], T0)
        uow.commit()
    return database


def test_message_from_known_contact_opens_a_conversation_for_its_client(db: Database) -> None:
    result = ingest(db, sms("SM1"))
    assert result.outcome is Outcome.NEW and result.opened
    assert result.conversation is not None and result.conversation.client_id == "acme"
    assert result.contact is not None and result.contact.name == "Dana Reyes"
    second = ingest(db, sms("SM2", at=T0 + timedelta(minutes=1)))
    assert not second.opened and second.conversation.id == result.conversation.id  # type: ignore[union-attr]
    assert count(db, MessageRow) == 2


def test_repeated_provider_id_is_the_same_message(db: Database) -> None:
    assert ingest(db, sms("SM1")).outcome is Outcome.NEW
    assert ingest(db, sms("SM1", text="retried")).outcome is Outcome.DUPLICATE
    assert count(db, MessageRow) == 1


def test_unknown_sender_lands_in_triage_not_dropped(db: Database) -> None:
    result = ingest(db, sms("SM9", sender="+13135559999"))
    assert result.unknown_sender
    assert result.conversation is not None and result.conversation.client_id is None
    assert count(db, MessageRow) == 1


def test_closed_conversation_reopens_on_next_message(db: Database) -> None:
    first = ingest(db, sms("SM1"))
    with UnitOfWork(db) as uow:
        uow.conversations.set_status(first.conversation.id, "closed", T0)  # type: ignore[union-attr]
        uow.commit()
    again = ingest(db, sms("SM2", at=T0 + timedelta(hours=1)))
    assert again.reopened and again.conversation.id == first.conversation.id  # type: ignore[union-attr]
    with db.session() as s:
        assert s.get(ConversationRow, first.conversation.id).status == "open"  # type: ignore[union-attr]


def test_stop_and_start_are_recorded_on_the_identity(db: Database) -> None:
    ingest(db, sms("SM1", text="STOP", keyword=OptKeyword.STOP))
    with db.session() as s:
        identity = s.execute(
            select(IdentityRow).where(IdentityRow.address == "+13135550142")
        ).scalar_one()
        assert identity.opted_out and identity.opted_out_at is not None
    ingest(db, sms("SM2", text="START", keyword=OptKeyword.START))
    with db.session() as s:
        identity = s.execute(
            select(IdentityRow).where(IdentityRow.address == "+13135550142")
        ).scalar_one()
        assert not identity.opted_out


def test_database_refuses_a_second_message_with_the_same_provider_id(db: Database) -> None:
    conv_id = ingest(db, sms("SM1")).conversation.id  # type: ignore[union-attr]
    with db.session() as s, pytest.raises(IntegrityError):
        s.add(
            MessageRow(
                conversation_id=conv_id,
                direction="in",
                channel="sms",
                text="x",
                author_type="contact",
                provider_id="SM1",
                attachments=[],
                created_at=T0,
            )
        )
        s.commit()


def _race(db: Database, messages: list[InboundMessage]) -> list[object]:
    barrier = threading.Barrier(len(messages))
    results: list[object] = [None] * len(messages)

    def run(i: int) -> None:
        barrier.wait()
        from bot.usecases.services import Services
        from routing.clock import FrozenClock

        results[i] = Services(db, FrozenClock(T0)).receive(messages[i])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(messages))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def test_twenty_concurrent_retries_of_one_message_store_it_once(db: Database) -> None:
    results = _race(db, [sms("SMrace") for _ in range(20)])
    outcomes = sorted(r.outcome.value for r in results)  # type: ignore[attr-defined]
    assert outcomes.count("new") == 1 and outcomes.count("duplicate") == 19
    assert count(db, MessageRow) == 1


def test_two_first_messages_from_a_new_sender_at_once_make_one_conversation(db: Database) -> None:
    results = _race(db, [sms(f"SMnew{i}", sender="+13135557777") for i in range(8)])
    assert all(r.outcome is Outcome.NEW for r in results)  # type: ignore[attr-defined]
    assert count(db, MessageRow) == 8
    with db.session() as s:
        convs = (
            s.execute(select(ConversationRow).where(ConversationRow.client_id.is_(None)))
            .scalars()
            .all()
        )
        assert len(convs) == 1
        unknown = s.execute(
            select(func.count()).select_from(ContactRow).where(ContactRow.client_id.is_(None))
        ).scalar_one()
        assert unknown == 1


def test_sqlite_runs_in_wal_mode(database: Database) -> None:
    if not database.sqlite:
        pytest.skip("SQLite only")
    with database.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"


def test_migrations_match_the_models(database: Database) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from storage.tables import Base

    with database.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_sync_directory_is_idempotent_and_moves_triage_addresses(db: Database) -> None:
    ingest(db, sms("SMx", sender="+13135550143"))  # Omar is not configured yet: triage
    omar = ContactEntry("Omar Haddad", ((Channel.SMS, "+13135550143"),))
    acme = dataclasses.replace(ACME, contacts=(*ACME.contacts, omar))
    for _ in range(2):
        with UnitOfWork(db) as uow:
            sync_directory(uow.session, [acme], T0)
            uow.commit()
    result = ingest(db, sms("SMy", sender="+13135550143"))
    assert result.contact is not None and result.contact.client_id == "acme"
    assert count(db, IdentityRow) == 3
