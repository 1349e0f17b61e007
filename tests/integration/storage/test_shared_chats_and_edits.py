"""Shared chats and edits through the router, on real SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from routing.directory import ClientEntry, ContactEntry
from routing.messages import Channel, InboundMessage
from routing.router import Ingested, Outcome, Router
from storage.db import Database
from storage.directory import sync_directory
from storage.migrate import upgrade
from storage.tables import ContactRow, ConversationRow, MessageRow
from storage.unit_of_work import UnitOfWork

T0 = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
SHARED = "C0ACMESHRD"
DANA = "U0DANAREYS"
ACME = ClientEntry(
    id="acme",
    name="Acme Robotics",
    commitment="priority",
    escalation=None,
    timezone=None,
    account_team=(),
    contacts=(ContactEntry("Dana Reyes", ((Channel.SLACK, DANA), (Channel.TELEGRAM, "42"))),),
    chats=((Channel.SLACK, SHARED),),
)


@pytest.fixture
def db(database: Database) -> Database:
    with UnitOfWork(database) as uow:
        sync_directory(uow.session, [ACME], T0)
        uow.commit()
    return database


def ingest(db: Database, msg: InboundMessage, key: str | None = None) -> Ingested:
    with UnitOfWork(db) as uow:
        result = Router(uow.router_store).ingest(msg, key)
        uow.commit()
        return result


def slack(
    user: str, ts: str, body: str, chat: str = SHARED, name: str | None = None, minutes: int = 0
) -> InboundMessage:
    at = T0 + timedelta(minutes=minutes)
    return InboundMessage(
        Channel.SLACK, f"{chat}:{ts}", user, body, at, chat_id=chat, sender_name=name
    )


def telegram(message_id: int, body: str, edit: int | None = None) -> InboundMessage:
    original = f"42:{message_id}"
    at = T0 + timedelta(minutes=edit or 0)
    if edit is None:
        return InboundMessage(Channel.TELEGRAM, original, "42", body, at, chat_id="42")
    return InboundMessage(
        Channel.TELEGRAM,
        f"{original}:edit:{edit}",
        "42",
        body,
        at,
        chat_id="42",
        edit_of=original,
        edited_at=at - timedelta(seconds=2),
    )


def messages(db: Database) -> list[MessageRow]:
    with db.session() as s:
        return list(s.execute(select(MessageRow).order_by(MessageRow.id)).scalars())


# --- shared chats ------------------------------------------------------------------------------


def test_every_member_of_a_shared_channel_writes_into_its_one_conversation(db: Database) -> None:
    first = ingest(db, slack(DANA, "1.1", "Can we move the launch?"))
    second = ingest(db, slack("U0ACMEGUES", "1.2", "And the press kit?", name="Priya Shah"))
    assert first.conversation is not None and second.conversation is not None
    assert first.conversation.id == second.conversation.id
    assert first.opened and not second.opened
    assert second.conversation.client_id == "acme" and second.conversation.chat_id == SHARED
    # The guest is now a contact of Acme's, named as Slack names them, not an unknown sender.
    assert second.contact is not None and second.contact.client_id == "acme"
    assert second.contact.name == "Priya Shah" and not second.unknown_sender
    assert [(m.author_name, m.text) for m in messages(db)] == [
        ("Dana Reyes", "Can we move the launch?"),
        ("Priya Shah", "And the press kit?"),
    ]
    with db.session() as s:
        conv = s.get(ConversationRow, first.conversation.id)
        channel = s.get(ContactRow, conv.contact_id)  # type: ignore[union-attr]
        assert channel is not None and channel.name == "Shared Slack channel"
        assert channel.client_id == "acme"


def test_a_dm_stays_one_conversation_per_contact(db: Database) -> None:
    shared = ingest(db, slack(DANA, "1.1", "in the channel"))
    dm = ingest(db, slack(DANA, "1.2", "just between us", chat="D0DANAREYS"))
    assert dm.conversation is not None and shared.conversation is not None
    assert dm.conversation.id != shared.conversation.id
    assert dm.conversation.contact_id == dm.contact.id  # type: ignore[union-attr]


def test_a_member_named_later_and_a_triage_contact_join_the_client(db: Database) -> None:
    # Priya wrote to us directly first (triage), then in Acme's channel, where users.info
    # failed; her next message there carries her name.
    triage = ingest(db, slack("U0ACMEGUES", "1.1", "hello?", chat="D0ACMEGUES"))
    assert triage.unknown_sender
    unnamed = ingest(db, slack("U0ACMEGUES", "1.2", "Is it Thursday?", minutes=1))
    assert unnamed.contact is not None and unnamed.contact.client_id == "acme"
    assert unnamed.contact.name is None
    named = ingest(db, slack("U0ACMEGUES", "1.3", "Thursday?", name="Priya Shah", minutes=2))
    assert named.contact is not None and named.contact.name == "Priya Shah"
    assert [m.author_name for m in messages(db)] == ["Priya Shah"] * 3
    # A configured contact keeps the configuration's name whatever Slack calls them.
    dana = ingest(db, slack(DANA, "1.4", "hi", name="dana.r"))
    assert dana.contact is not None and dana.contact.name == "Dana Reyes"


def test_a_channel_leaving_the_configuration_is_a_channel_no_more(db: Database) -> None:
    before = ingest(db, slack(DANA, "1.1", "one"))
    with UnitOfWork(db) as uow:
        sync_directory(uow.session, [dataclasses.replace(ACME, chats=())], T0)
        uow.commit()
    after = ingest(db, slack(DANA, "1.2", "two"))
    assert after.conversation is not None and before.conversation is not None
    assert after.conversation.id != before.conversation.id  # Dana's own, as before 0006


# --- edits -------------------------------------------------------------------------------------


def test_an_edit_changes_the_message_and_keeps_the_earlier_text(db: Database) -> None:
    original = ingest(db, telegram(7, "Launch Tuesday"))
    edited = ingest(db, telegram(7, "Launch Wednesday", edit=1))
    assert edited.outcome is Outcome.EDIT and edited.message_id == original.message_id
    assert edited.conversation is not None and edited.conversation.id == original.conversation.id  # type: ignore[union-attr]
    again = ingest(db, telegram(7, "Launch Thursday", edit=2))
    assert again.outcome is Outcome.EDIT
    [row] = messages(db)
    assert row.text == "Launch Thursday"
    assert [(e["text"], e["at"]) for e in row.edits] == [  # type: ignore[union-attr]
        ("Launch Tuesday", (T0 + timedelta(minutes=1)).isoformat()),
        ("Launch Wednesday", (T0 + timedelta(minutes=2)).isoformat()),
    ]


def test_an_edit_delivered_twice_is_recorded_once(db: Database) -> None:
    ingest(db, telegram(7, "Launch Tuesday"))
    edit = telegram(7, "Launch Wednesday", edit=1)
    assert ingest(db, edit, key="update:1").outcome is Outcome.EDIT
    # The same edit in another delivery (not the journal's key): the history knows it.
    assert ingest(db, edit, key="update:2").outcome is Outcome.DUPLICATE
    [row] = messages(db)
    assert row.text == "Launch Wednesday" and len(row.edits or []) == 1


def test_an_edit_of_a_message_we_never_got_is_filed_and_its_original_fills_in(
    db: Database,
) -> None:
    orphan = ingest(db, telegram(9, "Call me at 5, not 4", edit=3))
    assert orphan.outcome is Outcome.NEW and orphan.message_id is not None
    late = ingest(db, telegram(9, "Call me at 4"))  # the original, retried by Telegram
    assert late.outcome is Outcome.EDIT and late.message_id == orphan.message_id
    assert ingest(db, telegram(9, "Call me at 4"), key="again").outcome is Outcome.DUPLICATE
    [row] = messages(db)
    assert row.text == "Call me at 5, not 4" and row.provider_id == "42:9"
    assert [e["text"] for e in row.edits] == ["Call me at 4"]  # type: ignore[union-attr]


def test_an_edit_does_not_reopen_a_closed_conversation(db: Database) -> None:
    first = ingest(db, telegram(7, "Launch Tuesday"))
    assert first.conversation is not None
    with UnitOfWork(db) as uow:
        uow.conversations.set_status(first.conversation.id, "closed", T0)
        uow.commit()
    ingest(db, telegram(7, "Launch Wednesday", edit=1))
    with db.session() as s:
        conv = s.get(ConversationRow, first.conversation.id)
        assert conv is not None and conv.status == "closed"
        assert conv.updated_at == T0 + timedelta(minutes=1)  # the inbox sees the change


def test_concurrent_edits_of_one_message_are_all_kept(db: Database) -> None:
    ingest(db, telegram(7, "v0"))
    edits = [telegram(7, f"v{n}", edit=n) for n in range(1, 9)]
    barrier = threading.Barrier(len(edits))
    errors: list[BaseException] = []

    def run(msg: InboundMessage) -> None:
        barrier.wait()
        try:
            ingest(db, msg)
        except BaseException as exc:  # shown below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(m,)) for m in edits]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    [row] = messages(db)
    # Every edit is in the history once; the newest by Telegram's time is the text.
    assert row.text == "v8"
    assert sorted(e["text"] for e in row.edits) == [f"v{n}" for n in range(8)]  # type: ignore[union-attr]


def test_the_migration_folds_edits_stored_as_messages_into_their_originals(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0005")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO clients (id, name, commitment, account_team, active) "
                "VALUES ('acme', 'Acme', 'standard', '[]', 1)"
            )
        )
        conn.execute(
            text("INSERT INTO contacts (id, client_id, created_at) VALUES (1, 'acme', :t)"),
            {"t": "2026-12-01 10:00:00"},
        )
        conn.execute(
            text(
                "INSERT INTO conversations (id, contact_id, client_id, channel, chat_id, status, "
                "created_at, updated_at) VALUES (1, 1, 'acme', 'telegram', '42', 'open', :t, :t)"
            ),
            {"t": "2026-12-01 10:00:00"},
        )
        for mid, body, edit_of, minute in (
            (1, "Launch Tuesday", None, 0),
            (2, "other", None, 1),
            (3, "Launch Wednesday", 1, 2),
            (4, "Launch Thursday", 1, 3),
        ):
            conn.execute(
                text(
                    "INSERT INTO messages (id, conversation_id, direction, channel, text, "
                    "author_type, attachments, edit_of, created_at, provider_id) VALUES "
                    "(:id, 1, 'in', 'telegram', :body, 'contact', '[]', :edit_of, :at, :pid)"
                ),
                {
                    "id": mid,
                    "body": body,
                    "edit_of": edit_of,
                    "at": f"2026-12-01 10:0{minute}:00",
                    "pid": None if edit_of else f"42:{mid}",
                },
            )
        conn.execute(
            text(
                "INSERT INTO inbound_deliveries (channel, delivery_key, received_at, message_id, "
                "kind, state, attempts) VALUES ('telegram', 'update:3', :t, 4, 'message', "
                "'routed', 1)"
            ),
            {"t": "2026-12-01 10:03:00"},
        )
    engine.dispose()
    upgrade(url)
    db = Database(url)
    try:
        rows = messages(db)
        assert [(r.id, r.text) for r in rows] == [(1, "Launch Thursday"), (2, "other")]
        assert [e["text"] for e in rows[0].edits] == ["Launch Tuesday", "Launch Wednesday"]  # type: ignore[union-attr]
        assert rows[1].edits is None
        with db.session() as s:
            pointed = s.execute(text("SELECT message_id FROM inbound_deliveries")).scalar_one()
            assert pointed == 1
            assert s.execute(select(func.count()).select_from(MessageRow)).scalar_one() == 2
    finally:
        db.dispose()
