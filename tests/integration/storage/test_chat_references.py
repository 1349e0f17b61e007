"""What the chat apps keep and find, on real SQLite and PostgreSQL: the channel references
(storage/channel_refs.py) and a page's chat messages (storage/pages.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from routing.directory import ClientEntry, ContactEntry
from routing.messages import Channel, InboundMessage
from routing.router import Router
from storage.channel_refs import MirrorProgress, SlackThread
from storage.db import Database
from storage.directory import sync_directory
from storage.outbox import OutboxItem
from storage.tables import ChannelRefRow
from storage.unit_of_work import UnitOfWork

T0 = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
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


def test_a_thread_is_found_both_ways_and_its_progress_never_goes_back(database: Database) -> None:
    with UnitOfWork(database) as uow:
        refs = uow.channel_refs
        assert refs.slack_thread(7) is None and refs.mirror_progress(7) == MirrorProgress()
        refs.save_slack_thread(7, ROOT, MirrorProgress(cursor=3, root_text="Acme · Dana"), T0)
        uow.commit()
    with UnitOfWork(database) as uow:
        refs = uow.channel_refs
        assert refs.slack_thread(7) == ROOT
        assert refs.conversation_of_slack_thread(ROOT) == 7
        assert refs.conversation_of_slack_thread(SlackThread("C0INBOX000", "1.2")) is None
        refs.advance_mirror(7, T0, cursor=9)
        refs.advance_mirror(7, T0, cursor=5)  # a slower sync: the cursor stays at 9
        refs.advance_mirror(7, T0, root_text="Acme · Dana · closed")
        uow.commit()
    with UnitOfWork(database) as uow:
        assert uow.channel_refs.mirror_progress(7) == MirrorProgress(9, "Acme · Dana · closed")
        # The keys rows were always written under: rows written before the repository read
        # the same.
        keys = set(uow.session.execute(select(ChannelRefRow.key)).scalars())
    assert keys == {"slack:thread:7", "slack:root:C0INBOX000:1700000000.000100", "slack:mirror:7"}


def test_markers_are_claimed_once(database: Database) -> None:
    with UnitOfWork(database) as uow:
        refs = uow.channel_refs
        assert refs.claim_mirror_refresh(4, T0) is True
        assert refs.claim_mirror_refresh(4, T0) is False
        refs.mark_in_slack(10, T0)
        refs.mark_in_slack(10, T0)  # twice: still one marker, and no error
        refs.mark_in_slack(11, T0, version=2)
        uow.commit()
    with UnitOfWork(database) as uow:
        refs = uow.channel_refs
        assert refs.in_slack([10, 11, 12]) == {10}
        assert refs.in_slack([]) == frozenset()
        assert refs.versions_in_slack([(10, 0), (11, 1), (11, 2)]) == {(10, 0), (11, 2)}
        assert refs.claim_mirror_refresh(4, T0) is False  # committed: still claimed


def _conversation(uow: UnitOfWork) -> int:
    sync_directory(uow.session, [ACME], T0)
    msg = InboundMessage(Channel.SMS, "SM1", "+13135550142", "Help!", T0)
    result = Router(uow.router_store).ingest(msg)
    assert result.conversation is not None
    return result.conversation.id


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
