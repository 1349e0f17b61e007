"""Staff's daily use: a reply takes a conversation nobody has; what each one has read; what is
new for each one (bot.usecases.conversations, storage/read_markers.py, storage/notices.py)."""

from __future__ import annotations

from datetime import timedelta

from bot.usecases.services import ADMIN, Author
from storage.notices import Watermark
from storage.read_markers import UnreadCounts
from tests.usecases.rig import ANA_AUTHOR, DANA, LUCY, TUESDAY_EVENING, Rig

RAJ_AUTHOR = Author(id="raj", name="Raj Patel")


def _activity(rig: Rig, conversation_id: int) -> list[tuple[str, str, str | None]]:
    with rig.services.uow() as uow:
        return [(e.kind, e.actor, e.assignee) for e in uow.conversations.events(conversation_id)]


def test_a_reply_assigns_an_unassigned_conversation_to_the_replier(rig: Rig) -> None:
    conv = rig.client_writes(DANA, "Is the launch post ready?")
    assert rig.conversation(conv).assignee is None

    rig.services.reply(conv, "Yes, at noon.", ANA_AUTHOR)

    assert rig.conversation(conv).assignee == "ana"
    assert _activity(rig, conv) == [("assigned", "ana", "ana")]  # as a manual assign reads


def test_a_reply_leaves_someone_elses_conversation_theirs(rig: Rig) -> None:
    conv = rig.client_writes(DANA, "Is the launch post ready?")
    rig.services.assign(conv, "raj", ANA_AUTHOR)

    rig.services.reply(conv, "Raj is on it; covering for him.", ANA_AUTHOR)

    assert rig.conversation(conv).assignee == "raj"
    assert _activity(rig, conv) == [("assigned", "ana", "raj")]


def test_the_admin_token_replies_without_taking_the_conversation(rig: Rig) -> None:
    conv = rig.client_writes(LUCY, "Open on Saturday?")

    rig.services.reply(conv, "Yes, 9 to 1.", ADMIN)

    assert rig.conversation(conv).assignee is None
    assert _activity(rig, conv) == []


def test_a_note_takes_nothing(rig: Rig) -> None:
    conv = rig.client_writes(LUCY, "Open on Saturday?")
    rig.services.add_note(conv, "Check the rota.", ANA_AUTHOR)
    assert rig.conversation(conv).assignee is None


def _unread(rig: Rig, staff_id: str, *conversations: int) -> set[int]:
    with rig.services.uow() as uow:
        return uow.read_markers.unread_among(staff_id, list(conversations))


def _counts(rig: Rig, staff_id: str) -> UnreadCounts:
    with rig.services.uow() as uow:
        return uow.read_markers.unread_counts(staff_id)


def _newest(rig: Rig, conversation_id: int) -> int:
    return rig.messages(conversation_id)[-1].id


def test_reading_is_per_staff_member_and_a_new_client_message_unreads(rig: Rig) -> None:
    dana = rig.client_writes(DANA, "Is the launch post ready?")
    lucy = rig.client_writes(LUCY, "Open on Saturday?")
    assert _unread(rig, "ana", dana, lucy) == {dana, lucy}
    assert _unread(rig, "raj", dana, lucy) == {dana, lucy}

    assert rig.services.mark_read(dana, "ana", _newest(rig, dana)) is True

    assert _unread(rig, "ana", dana, lucy) == {lucy}
    assert _unread(rig, "raj", dana, lucy) == {dana, lucy}  # Raj has read nothing
    assert _counts(rig, "ana").open == 1 and _counts(rig, "raj").open == 2

    # Staff's own messages do not make it unread again; the client's next message does.
    rig.services.add_note(dana, "Checking with design.", RAJ_AUTHOR)
    assert _unread(rig, "ana", dana) == set()
    rig.clock.advance(timedelta(minutes=1))
    rig.client_writes(DANA, "Any news?")
    assert _unread(rig, "ana", dana) == {dana}


def test_a_marker_never_moves_back(rig: Rig) -> None:
    conv = rig.client_writes(DANA, "First")
    first = _newest(rig, conv)
    rig.client_writes(DANA, "Second")
    second = _newest(rig, conv)
    assert rig.services.mark_read(conv, "ana", second) is True
    assert rig.services.mark_read(conv, "ana", first) is False  # an older tab, re-read
    with rig.services.uow() as uow:
        assert uow.read_markers.last_read("ana", conv) == second
    assert _unread(rig, "ana", conv) == set()


def test_unread_counts_by_view(rig: Rig) -> None:
    dana = rig.client_writes(DANA, "Is the launch post ready?")
    lucy = rig.client_writes(LUCY, "Open on Saturday?")
    rig.services.assign(dana, "ana", RAJ_AUTHOR)

    counts = _counts(rig, "ana")
    assert (counts.open, counts.mine, counts.unassigned) == (2, 1, 1)
    assert (counts.of("mine"), counts.of("closed")) == (1, None)  # closed views are not counted

    rig.services.mark_read(lucy, "ana", _newest(rig, lucy))
    assert (_counts(rig, "ana").open, _counts(rig, "ana").unassigned) == (1, 0)
    rig.services.close(dana, RAJ_AUTHOR)
    assert _counts(rig, "ana") == UnreadCounts()


def test_attention_counts_unread_and_at_risk_once_each(rig: Rig) -> None:
    dana = rig.client_writes(DANA, "Is the launch post ready?")  # priority: 30 min, at risk at 75%
    with rig.services.uow() as uow:
        assert uow.read_markers.attention_count("ana") == 1
    rig.services.mark_read(dana, "ana", _newest(rig, dana))
    with rig.services.uow() as uow:
        assert uow.read_markers.attention_count("ana") == 0
    rig.clock.advance(timedelta(minutes=24))
    rig.run_worker()  # the promise falls at risk
    assert rig.conversation(dana).commitment_state == "at_risk"
    with rig.services.uow() as uow:
        assert uow.read_markers.attention_count("ana") == 1  # read, but at risk


def _news(rig: Rig, staff_id: str, mark: Watermark) -> tuple[list[tuple[str, int]], Watermark]:
    with rig.services.uow() as uow:
        notices, after = uow.notices.since(staff_id, mark)
    return [(n.kind, n.conversation_id) for n in notices], after


def test_notices_tell_each_new_thing_once_and_only_to_whom_it_concerns(rig: Rig) -> None:
    with rig.services.uow() as uow:
        start = uow.notices.now_mark("ana")
    dana = rig.client_writes(DANA, "Is the launch post ready?")
    lucy = rig.client_writes(LUCY, "Open on Saturday?")
    rig.services.assign(lucy, "raj", RAJ_AUTHOR)

    ana_news, ana_mark = _news(rig, "ana", start)
    assert ana_news == [("message", dana)]  # Lucy's is Raj's now
    raj_news, _ = _news(rig, "raj", start)
    assert sorted(raj_news) == [("message", dana), ("message", lucy)]
    assert _news(rig, "ana", ana_mark)[0] == []  # told once

    rig.clock.advance(timedelta(minutes=24))
    rig.run_worker()  # Dana's promise falls at risk
    news, ana_mark = _news(rig, "ana", ana_mark)
    assert news == [("at_risk", dana)]
    # A watermark that is not one of ours is refused, not trusted.
    for forged in ("", "abc", Watermark(1, 2).encode()[:-2] + "!!"):
        try:
            Watermark.decode(forged)
        except ValueError:
            continue
        raise AssertionError(f"{forged!r} was accepted")
    assert Watermark.decode(ana_mark.encode()) == ana_mark


def test_a_page_to_me_is_a_notice(rig: Rig) -> None:
    rig.advance_to(TUESDAY_EVENING)  # after hours: Dana's priority message pages Raj on call
    with rig.services.uow() as uow:
        start = {who: uow.notices.now_mark(who) for who in ("raj", "kim")}
    dana = rig.client_writes(DANA, "The site is down!")
    rig.run_worker()
    assert rig.page_of(dana) is not None
    raj_news, _ = _news(rig, "raj", start["raj"])
    assert ("page", dana) in raj_news
    kim_news, _ = _news(rig, "kim", start["kim"])
    assert ("page", dana) not in kim_news
