"""Staff acting on a conversation: reply, note, close, reopen, assign (bot.usecases.services)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.usecases.services import Author
from routing.errors import DomainError
from routing.messages import Channel
from tests.usecases.rig import ANA_AUTHOR, DANA, LUCY, Rig


def test_a_reply_is_stored_with_its_author_queued_sent_and_meets_the_commitment(
    rig: Rig,
) -> None:
    conv = rig.client_writes(DANA, "Is the launch post ready?")
    rig.clock.advance(timedelta(minutes=5))

    reply = rig.services.reply(conv, "Yes, it goes out at noon.", ANA_AUTHOR)

    assert (reply.direction, reply.author_type) == ("out", "staff")
    assert (reply.author_id, reply.author_name) == ("ana", "Ana Ortiz")
    assert reply.delivery == "queued"
    assert [(p.index, p.delivery) for p in reply.parts] == [(0, "queued")]  # one outbox row
    [(commitment, events)] = rig.commitments(conv)
    assert commitment.state == "met" and commitment.met_at == rig.clock.now()
    assert events == ["pending", "met"]

    rig.run_worker()  # the outbox row goes to the client through the channel adapter
    assert rig.sent.texts(Channel.SMS, DANA) == ["Yes, it goes out at noon."]
    [stored] = [m for m in rig.messages(conv) if m.id == reply.id]
    assert stored.author_name == "Ana Ortiz"
    assert [(p.delivery, p.provider_id) for p in stored.parts] == [("sent", "sms-1")]


def test_a_note_is_kept_with_its_author_and_never_sent(rig: Rig) -> None:
    conv = rig.client_writes(DANA, "Call me when you can.")

    note = rig.services.add_note(conv, "Dana prefers a call after 3.", ANA_AUTHOR)

    assert (note.direction, note.author_id, note.author_name) == ("note", "ana", "Ana Ortiz")
    assert note.delivery is None and note.parts == ()
    rig.run_worker()
    assert rig.sent.all() == []  # nothing for the client, nor anyone
    [(commitment, _)] = rig.commitments(conv)
    assert commitment.state == "pending"  # a note is not an answer


def test_close_ends_the_commitment_unanswered_and_reopen_opens_again(rig: Rig) -> None:
    conv = rig.client_writes(LUCY, "Never mind, sorted it.")
    rig.clock.advance(timedelta(minutes=1))

    closed = rig.services.close(conv, ANA_AUTHOR)

    assert closed.status == "closed"
    [(commitment, events)] = rig.commitments(conv)
    assert commitment.state == "unanswered" and commitment.closed_at == rig.clock.now()
    assert events == ["pending", "unanswered"]
    rig.clock.advance(timedelta(hours=8))  # well past the due time: its timers were cancelled
    rig.run_worker()
    assert rig.commitments(conv)[0][0].state == "unanswered"
    assert rig.sent.all() == []

    assert rig.services.reopen(conv, ANA_AUTHOR).status == "open"


def test_assign_records_the_assignee_and_refuses_strangers(rig: Rig) -> None:
    conv = rig.client_writes(LUCY, "Who handles our account?")

    assert rig.services.assign(conv, "raj", ANA_AUTHOR).assignee == "raj"
    assert rig.services.assign(conv, None, ANA_AUTHOR).assignee is None
    with pytest.raises(DomainError) as refused:
        rig.services.assign(conv, "nobody", ANA_AUTHOR)
    assert refused.value.code == "unknown_staff"


def _activity(rig: Rig, conversation_id: int) -> list[tuple[str, str, str | None]]:
    with rig.services.uow() as uow:
        return [(e.kind, e.actor, e.assignee) for e in uow.conversations.events(conversation_id)]


def test_close_and_reopen_record_who_did_it(rig: Rig) -> None:
    conv = rig.client_writes(LUCY, "Thanks, all done.")
    rig.services.close(conv, ANA_AUTHOR)
    rig.services.reopen(conv, Author("raj", "Raj"))
    assert _activity(rig, conv) == [("closed", "ana", None), ("reopened", "raj", None)]


def test_assign_records_who_assigned_whom(rig: Rig) -> None:
    conv = rig.client_writes(LUCY, "Who handles our account?")
    rig.services.assign(conv, "raj", ANA_AUTHOR)
    rig.services.assign(conv, None, ANA_AUTHOR)
    assert _activity(rig, conv) == [("assigned", "ana", "raj"), ("assigned", "ana", None)]
