"""Pages (bot.usecases.paging through Services): steps escalating on timers while nobody
acknowledges, acknowledgement by staff id or by text, answers relayed to the client, and the
shift handoff. The story agency's steps wait 3 seconds: Raj (on call), Jim (next, SMS then a
call a second later), then Kim (leadership)."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import pytest

from routing.errors import Conflict
from routing.messages import Channel, InboundMessage
from tests.usecases.rig import DANA, DETROIT, JIM, KIM, LUCY, RAJ, TUESDAY_EVENING, Rig


def _page_opened(rig: Rig) -> tuple[int, int]:
    """After hours, Dana writes and Raj is paged: (conversation id, page id)."""
    rig.clock.set(TUESDAY_EVENING)
    conv = rig.client_writes(DANA, "Our statement has a typo!")
    page = rig.page_of(conv)
    assert page is not None
    return conv, page.id


def test_an_unacknowledged_page_moves_to_the_next_step_only_after_the_steps_wait(
    rig: Rig,
) -> None:
    conv, page_id = _page_opened(rig)
    assert len(rig.sent.texts(Channel.SMS, RAJ)) == 1

    rig.advance_to(TUESDAY_EVENING + timedelta(seconds=2.9))
    assert rig.sent.texts(Channel.SMS, JIM) == []  # step 1 still waits

    rig.advance_to(TUESDAY_EVENING + timedelta(seconds=3))
    page = rig.page_of(conv)
    assert page is not None and (page.state, page.step) == ("open", 2)
    [jim_sms] = rig.sent.texts(Channel.SMS, JIM)
    assert jim_sms.startswith(f"Page {page_id}: Dana Reyes (Acme Robotics)")
    assert rig.sent.texts(Channel.VOICE, JIM) == []  # his call comes a second later

    rig.advance_to(TUESDAY_EVENING + timedelta(seconds=4))
    assert len(rig.sent.texts(Channel.VOICE, JIM)) == 1
    assert rig.sent.texts(Channel.SMS, KIM) == []

    rig.advance_to(TUESDAY_EVENING + timedelta(seconds=6))
    assert len(rig.sent.texts(Channel.SMS, KIM)) == 1  # step 3
    assert len(rig.sent.texts(Channel.SMS, RAJ)) == 1  # and nobody twice


def test_acknowledged_by_staff_id_the_page_stops_and_the_answer_is_relayed(rig: Rig) -> None:
    conv, page_id = _page_opened(rig)
    rig.advance_to(TUESDAY_EVENING + timedelta(seconds=3))  # step 2: Jim

    acked = rig.services.acknowledge(page_id, "jim", via="test")

    assert (acked.state, acked.acknowledged_by) == ("acknowledged", "jim")
    with pytest.raises(Conflict):
        rig.services.acknowledge(page_id, "raj", via="test")  # once only
    rig.advance_to(TUESDAY_EVENING + timedelta(minutes=5))
    assert rig.sent.texts(Channel.VOICE, JIM) == []  # his pending call was cancelled
    assert rig.sent.texts(Channel.SMS, KIM) == []  # and step 3 never ran

    answer = rig.services.relay("jim", "Fixed, see your inbox.", None, via="test")

    assert (answer.conversation_id, answer.direction) == (conv, "out")
    assert (answer.author_id, answer.author_name) == ("jim", "Jim Miller")
    rig.run_worker()
    assert rig.sent.texts(Channel.SMS, DANA)[-1] == "Fixed, see your inbox."
    page = rig.page_of(conv)
    assert page is not None and page.state == "resolved"
    assert rig.commitments(conv)[0][0].state == "met"


def test_a_paged_person_acknowledges_and_answers_by_text(rig: Rig) -> None:
    conv, page_id = _page_opened(rig)
    texts = itertools.count(1)

    def raj_texts(body: str) -> None:
        # A staff member's phone: Services.route_journalled hands it to the staff text handler.
        provider_id = f"SMraj{next(texts)}"
        rig.journal(InboundMessage(Channel.SMS, provider_id, RAJ, body, rig.clock.now()))

    raj_texts("ack")
    page = rig.page_of(conv)
    assert page is not None and (page.state, page.acknowledged_by) == ("acknowledged", "raj")
    assert rig.sent.texts(Channel.SMS, RAJ)[-1].startswith(f"Acknowledged page {page_id}.")

    raj_texts(f"{page_id} On it, fixed within the hour.")
    assert rig.sent.texts(Channel.SMS, RAJ)[-1] == f"Sent to the client of page {page_id}."
    assert rig.sent.texts(Channel.SMS, DANA)[-1] == "On it, fixed within the hour."
    [answer] = [m for m in rig.messages(conv) if m.direction == "out"]
    assert (answer.author_id, answer.author_name) == ("raj", "Raj Patel")
    assert [m.direction for m in rig.messages(conv)] == ["in", "auto", "out"]  # not a client's


def test_the_incoming_person_is_told_at_handoff_what_they_inherit(rig: Rig) -> None:
    # Sunday night; the leadership rotation (Kim alone) hands off weekly at Monday 00:00.
    rig.clock.set(datetime(2026, 12, 13, 23, 0, tzinfo=DETROIT))
    rig.client_writes(LUCY, "Cake for Tuesday?")  # due Monday 13:00, after hours acknowledged
    rig.worker.start_up()  # schedules each rotation's next handoff
    rig.run_worker()
    assert rig.sent.texts(Channel.SMS, KIM) == []

    rig.advance_to(datetime(2026, 12, 14, 0, 0, 30, tzinfo=DETROIT))

    [notice] = rig.sent.texts(Channel.SMS, KIM)
    assert notice.startswith("Hi Kim: you're on call for leadership now, until")
    assert "You inherit 1 open: Brightside Bakery (Lucy Chen) due" in notice
    with rig.services.uow() as uow:
        keys = [t.key for t in uow.timers.pending("handoff:leadership:")]
    assert keys == ["handoff:leadership:7"]  # the next one is waiting
