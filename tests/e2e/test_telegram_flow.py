"""Telegram end to end: the app on loopback with its worker and the real python-telegram-bot,
the Bot API stand-in delivering updates to the webhook and receiving what the bot sends."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import func, select

from adapters.standins.telegram import TelegramStandIn
from adapters.standins.twilio import TwilioStandIn
from routing.clock import Clock, OffsetClock
from storage.tables import TimerRow
from tests.browser.inbox_support import add_login, signed_in
from tests.e2e.conftest import MONDAY_MORNING, TELEGRAM_SECRET, TELEGRAM_TOKEN
from tests.e2e.test_slack_flow import promise
from tests.e2e.test_sms_flow import conversation, conversations, eventually
from tests.support.app import RunningApp, running_app

TOKEN, SECRET = TELEGRAM_TOKEN, TELEGRAM_SECRET
DANA = TelegramStandIn.user(200000042, "Dana", "Reyes")  # Acme Robotics, priority
ANA = TelegramStandIn.user(100000002, "Ana", "Ortiz")  # staff, notify = telegram first
JIM = TelegramStandIn.user(100000001, "Jim", "Miller")  # staff
STRANGER = TelegramStandIn.user(300000099, "Sam", "Stranger")
PATH = "/webhooks/telegram"


@contextlib.contextmanager
def telegram_app(
    db_url: str, twilio: TwilioStandIn, tg: TelegramStandIn, clock: Clock
) -> Iterator[RunningApp]:
    with running_app(
        db_url,
        twilio.url,
        clock=clock,
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_WEBHOOK_SECRET=SECRET,
        TELEGRAM_API_URL=tg.api_url,
    ) as running:
        yield running


@pytest.fixture
def app(db_url: str, twilio: TwilioStandIn, tg: TelegramStandIn) -> Iterator[RunningApp]:
    with telegram_app(db_url, twilio, tg, OffsetClock(MONDAY_MORNING)) as running:
        yield running


def deliver(tg: TelegramStandIn, app: RunningApp, update: dict[str, Any], **kw: Any) -> int:
    response: httpx.Response = tg.deliver(update, app.url + PATH, secret=kw.pop("secret", SECRET))
    return response.status_code


def texts_to(tg: TelegramStandIn, chat: int) -> list[str]:
    return [m["text"] for m in tg.sent_to(chat)]


def followed_up(app: RunningApp) -> None:
    """Until the journal is routed and no timer is due (a filed message's follow-up is one)."""

    def quiet() -> bool:
        now = app.container.clock.now()
        with app.container.services.uow() as uow:
            due = uow.session.execute(
                select(func.count())
                .select_from(TimerRow)
                .where(TimerRow.state == "pending", TimerRow.due_at <= now)
            ).scalar_one()
            return uow.inbound.pending_count() == 0 and due == 0

    eventually(quiet)


def inbound_rows(app: RunningApp) -> int:
    with app.container.services.uow() as uow:
        return uow.inbound.pending_count()


# --- inbound -------------------------------------------------------------------------------


def test_a_client_message_lands_in_the_contacts_conversation(
    app: RunningApp, tg: TelegramStandIn
) -> None:
    assert deliver(tg, app, tg.message_update(DANA, "Can we move the launch?")) == 200
    [conv] = eventually(lambda: conversations(app))
    assert conv["channel"] == "telegram"
    assert conv["client"] == {"id": "acme", "name": "Acme Robotics"}
    assert conv["contact"]["name"] == "Dana Reyes" and conv["contact"]["address"] == "200000042"
    [msg] = conversation(app, conv["id"])["messages"]
    assert msg["direction"] == "in" and msg["text"] == "Can we move the launch?"


def test_wrong_or_missing_secret_gets_403_and_changes_nothing(
    app: RunningApp, tg: TelegramStandIn
) -> None:
    update = tg.message_update(DANA, "forged")
    assert deliver(tg, app, update, secret="not-the-secret") == 403
    assert deliver(tg, app, update, secret="") == 403  # no header at all
    with app.container.services.uow() as uow:
        assert uow.inbound.pending_count() == 0
    assert conversations(app) == []
    # The same update with the right secret is still accepted: nothing was claimed.
    assert deliver(tg, app, update) == 200
    eventually(lambda: len(conversations(app)) == 1)


def test_malformed_json_gets_400(app: RunningApp) -> None:
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
    for body in (b"{not json", b'{"no_update_id": 1}'):
        response = httpx.post(app.url + PATH, content=body, headers=headers, timeout=10)
        assert response.status_code == 400


def test_a_repeated_update_is_the_same_update(app: RunningApp, tg: TelegramStandIn) -> None:
    update = tg.message_update(DANA, "Only once, please")
    assert deliver(tg, app, update) == 200
    assert deliver(tg, app, update) == 200
    [conv] = eventually(lambda: conversations(app))
    eventually(lambda: inbound_rows(app) == 0)
    assert [m["text"] for m in conversation(app, conv["id"])["messages"]] == ["Only once, please"]

    start = tg.message_update(DANA, "/start")
    assert deliver(tg, app, start) == 200
    assert deliver(tg, app, start) == 200
    eventually(lambda: len(tg.sent_to(200000042)) == 1)
    assert len(tg.calls("sendMessage")) == 1


def test_an_unknown_user_goes_to_triage(app: RunningApp, tg: TelegramStandIn) -> None:
    assert deliver(tg, app, tg.message_update(STRANGER, "Are you hiring?")) == 200
    [conv] = eventually(lambda: conversations(app))
    assert conv["client"]["id"] is None
    assert conv["contact"]["address"] == "300000099"


def test_media_is_recorded(app: RunningApp, tg: TelegramStandIn) -> None:
    photo = tg.message_update(
        DANA,
        caption="Logo v2",
        photo=[{"file_id": "PHOTO-1", "file_unique_id": "p1", "width": 800, "height": 600}],
    )
    assert deliver(tg, app, photo) == 200
    [conv] = eventually(lambda: conversations(app))
    [first] = conversation(app, conv["id"])["messages"]
    assert first["text"] == "Logo v2" and first["edits"] == [] and first["edited_at"] is None
    assert first["attachments"] == [{"file_id": "PHOTO-1", "content_type": "image/jpeg"}]


def test_an_edit_changes_the_message_keeps_its_history_and_starts_nothing(
    app: RunningApp, tg: TelegramStandIn
) -> None:
    original = tg.message_update(DANA, "Launch Tuesday")
    assert deliver(tg, app, original) == 200
    [conv] = eventually(lambda: conversations(app))
    eventually(lambda: promise(app, conv["id"]) == "pending")
    with app.api() as api:
        reply = api.post(f"/api/conversations/{conv['id']}/reply", json={"text": "Noted."})
    assert reply.status_code == 202
    eventually(lambda: promise(app, conv["id"]) == "met")

    edit = tg.edit_update(original, "Launch Wednesday")
    assert deliver(tg, app, edit) == 200
    assert deliver(tg, app, edit) == 200  # Telegram retries: the same update_id

    def edited() -> dict[str, Any]:
        view = conversation(app, conv["id"])
        [message] = [m for m in view["messages"] if m["direction"] == "in"]
        assert message["text"] == "Launch Wednesday"
        return view

    eventually(edited)
    followed_up(app)  # whatever the edit's follow-up would start has started
    view = conversation(app, conv["id"])
    [message] = [m for m in view["messages"] if m["direction"] == "in"]
    assert [e["text"] for e in message["edits"]] == ["Launch Tuesday"]
    assert message["edited_at"] == message["edits"][0]["at"]
    assert datetime.fromisoformat(message["edited_at"]) >= datetime.fromisoformat(
        message["created_at"]
    )
    # No new promise: the one the message started was met, and stays the only one.
    assert [c["state"] for c in view["commitments"]] == ["met"]
    assert view["commitment"]["state"] == "met"

    # The same edit by another update (not a retry of this one) is still recorded once.
    assert deliver(tg, app, {**edit, "update_id": tg.next_update_id()}) == 200
    followed_up(app)
    [message] = [m for m in conversation(app, conv["id"])["messages"] if m["direction"] == "in"]
    assert len(message["edits"]) == 1

    # The inbox shows it edited, with the earlier text at hand.
    add_login(app.container, "ana", "ana")
    with signed_in(app.url, "ana") as browser:
        page = browser.get(f"/inbox/conversations/{conv['id']}")
    assert page.status_code == 200
    assert '<details class="edits">' in page.text and "Launch Tuesday" in page.text
    assert page.text.index("Launch Wednesday") < page.text.index("Launch Tuesday")


def test_an_edit_of_a_message_we_never_got_is_filed_as_the_message(
    app: RunningApp, tg: TelegramStandIn
) -> None:
    lost = tg.message_update(DANA, "Call me at 4")  # never reached us
    assert deliver(tg, app, tg.edit_update(lost, "Call me at 5, not 4")) == 200
    [conv] = eventually(lambda: conversations(app))
    [message] = conversation(app, conv["id"])["messages"]
    assert message["text"] == "Call me at 5, not 4"
    assert [e["text"] for e in message["edits"]] == [None]  # edited; the earlier text unknown
    # It is what the client asks: it is promised an answer like any message.
    eventually(lambda: promise(app, conv["id"]) == "pending")
    # The original, delivered late after all, fills in the history: still one message.
    assert deliver(tg, app, lost) == 200
    followed_up(app)
    [message] = conversation(app, conv["id"])["messages"]
    assert [e["text"] for e in message["edits"]] == ["Call me at 4"]
    assert len(conversation(app, conv["id"])["commitments"]) == 1


def test_start_greets_with_the_agency_name(app: RunningApp, tg: TelegramStandIn) -> None:
    assert deliver(tg, app, tg.message_update(DANA, "/start")) == 200
    [greeting] = eventually(lambda: texts_to(tg, 200000042))
    assert "Lakeshore Communications" in greeting
    assert conversations(app) == []  # pressing Start is not a request


def test_oncall_answers_staff_only(app: RunningApp, tg: TelegramStandIn) -> None:
    assert deliver(tg, app, tg.message_update(ANA, "/oncall")) == 200
    [answer] = eventually(lambda: texts_to(tg, 100000002))
    # Monday 10:00, office open: after-hours has nobody, leadership is Kim's.
    assert answer.startswith("On call now:")
    assert "leadership: Kim Lee" in answer and "after-hours:" in answer

    assert deliver(tg, app, tg.message_update(DANA, "/oncall")) == 200
    [refusal] = eventually(lambda: texts_to(tg, 200000042))
    assert "staff" in refusal and "Kim" not in refusal


# --- outbound ------------------------------------------------------------------------------


def _reply(app: RunningApp, conv_id: int, text: str) -> httpx.Response:
    with app.api() as api:
        return api.post(f"/api/conversations/{conv_id}/reply", json={"text": text})


def _dana_conversation(app: RunningApp, tg: TelegramStandIn) -> dict[str, Any]:
    assert deliver(tg, app, tg.message_update(DANA, "Hello?")) == 200
    [conv] = eventually(lambda: conversations(app))
    return conv  # type: ignore[no-any-return]


def test_a_long_reply_is_split_and_all_of_it_arrives(app: RunningApp, tg: TelegramStandIn) -> None:
    conv = _dana_conversation(app, tg)
    text = "\n\n".join(f"Point {i}: " + "details " * 300 for i in range(4))  # ~9.6k characters
    assert _reply(app, conv["id"], text).status_code == 202
    parts = eventually(lambda: len(texts_to(tg, 200000042)) == 4 and texts_to(tg, 200000042))
    assert all(len(p) <= 4096 for p in parts)
    assert [p.split(":")[0] for p in parts] == ["Point 0", "Point 1", "Point 2", "Point 3"]

    def sent() -> bool:
        out = [m for m in conversation(app, conv["id"])["messages"] if m["direction"] == "out"]
        return out[0]["delivery"] == "sent"

    eventually(sent)


def test_429_is_waited_out_and_the_reply_arrives(app: RunningApp, tg: TelegramStandIn) -> None:
    conv = _dana_conversation(app, tg)
    tg.rate_limit(200000042, count=1, retry_after=0.3)
    assert _reply(app, conv["id"], "After the wait").status_code == 202
    eventually(lambda: texts_to(tg, 200000042) == ["After the wait"])
    assert len(tg.calls("sendMessage")) == 2  # one refused with 429, one accepted

    def sent() -> bool:
        out = [m for m in conversation(app, conv["id"])["messages"] if m["direction"] == "out"]
        return out[0]["delivery"] == "sent"

    eventually(sent)


def test_a_user_who_blocked_the_bot_becomes_unreachable(
    app: RunningApp, tg: TelegramStandIn
) -> None:
    conv = _dana_conversation(app, tg)
    tg.block(200000042)
    assert _reply(app, conv["id"], "Are you there?").status_code == 202

    def failed() -> dict[str, Any]:
        view = conversation(app, conv["id"])
        out = [m for m in view["messages"] if m["direction"] == "out"]
        assert out[0]["delivery"] == "failed"
        # One transaction records both, but the API reads the conversation and its messages
        # in two statements, so on PostgreSQL one read may fall between them: ask again.
        assert view["reachable"] is False
        return view  # type: ignore[no-any-return]

    view = eventually(failed)
    error = next(m for m in view["messages"] if m["direction"] == "out")["error"]
    assert error.startswith("403"), error
    assert len(tg.calls("sendMessage")) == 1  # not retried
    refused = _reply(app, conv["id"], "Again?")
    assert refused.status_code == 409
    assert refused.json()["code"] == "contact_unreachable"


# --- pages ---------------------------------------------------------------------------------


def pages(app: RunningApp) -> list[dict[str, Any]]:
    with app.api() as api:
        response = api.get("/api/pages")
    assert response.status_code == 200, response.text
    return response.json()["items"]  # type: ignore[no-any-return]


def _open_page(app: RunningApp, tg: TelegramStandIn) -> dict[str, Any]:
    """A client writes after hours: the on-call person (Ana, this week) is paged on Telegram."""
    assert deliver(tg, app, tg.message_update(DANA, "Our site is down!")) == 200

    def paged() -> dict[str, Any]:
        pages = [m for m in tg.sent_to(100000002) if m.get("reply_markup")]
        assert pages
        return pages[-1]

    return eventually(paged)  # type: ignore[no-any-return]


# Tuesday 1 December 2026, 20:00 in Detroit: after hours, Ana's week on the after-hours rotation.
TUESDAY_EVENING = datetime(2026, 12, 1, 20, 0, tzinfo=ZoneInfo("America/Detroit"))


@pytest.fixture
def evening_app(db_url: str, twilio: TwilioStandIn, tg: TelegramStandIn) -> Iterator[RunningApp]:
    with telegram_app(db_url, twilio, tg, OffsetClock(TUESDAY_EVENING)) as running:
        yield running


def test_the_paged_person_acknowledges_with_the_button(
    evening_app: RunningApp, tg: TelegramStandIn
) -> None:
    app = evening_app
    page = _open_page(app, tg)
    callback = page["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    assert callback.startswith("ack:") and len(callback.encode()) <= 64

    press = tg.press_button(ANA, 100000002, page["message_id"])
    assert deliver(tg, app, press) == 200
    query_id = press["callback_query"]["id"]
    answer = eventually(lambda: tg.answer_of(query_id))
    assert "Acknowledged" in answer["text"]

    def edited() -> dict[str, Any]:
        message = tg.message(100000002, page["message_id"])
        assert "Acknowledged by Ana Ortiz" in message["text"]
        return message

    assert "reply_markup" not in eventually(edited)
    [record] = pages(app)
    assert record["state"] == "acknowledged" and record["acknowledged_by"] == "ana"


def test_a_stranger_pressing_a_forwarded_button_acknowledges_nothing(
    evening_app: RunningApp, tg: TelegramStandIn
) -> None:
    app = evening_app
    page = _open_page(app, tg)
    press = tg.press_button(STRANGER, 100000002, page["message_id"])
    assert deliver(tg, app, press) == 200
    answer = eventually(lambda: tg.answer_of(press["callback_query"]["id"]))
    assert "Nothing was acknowledged" in answer["text"] and answer["show_alert"]
    assert "reply_markup" in tg.message(100000002, page["message_id"])  # still unacknowledged
    [record] = pages(app)
    assert record["state"] == "open" and record["acknowledged_by"] is None
    # Ana can still acknowledge it.
    own = tg.press_button(ANA, 100000002, page["message_id"])
    assert deliver(tg, app, own) == 200
    assert "Acknowledged" in eventually(lambda: tg.answer_of(own["callback_query"]["id"]))["text"]


def test_ack_command_acknowledges_the_latest_page(
    evening_app: RunningApp, tg: TelegramStandIn
) -> None:
    app = evening_app
    page = _open_page(app, tg)
    assert deliver(tg, app, tg.message_update(ANA, "/ack")) == 200
    eventually(lambda: any(t.startswith("Acknowledged") for t in texts_to(tg, 100000002)))
    eventually(lambda: "reply_markup" not in tg.message(100000002, page["message_id"]))
    [record] = pages(app)
    assert record["state"] == "acknowledged" and record["acknowledged_by"] == "ana"
    # Nothing left to acknowledge: the use case's own words come back.
    assert deliver(tg, app, tg.message_update(ANA, "/ack")) == 200
    eventually(lambda: texts_to(tg, 100000002)[-1] == "You have no open page to acknowledge.")
    # Someone who is not staff cannot acknowledge anything.
    assert deliver(tg, app, tg.message_update(STRANGER, "/ack")) == 200
    eventually(lambda: texts_to(tg, 300000099) == ["/ack is for the agency's staff."])


def test_the_full_after_hours_story(evening_app: RunningApp, tg: TelegramStandIn) -> None:
    """Client writes at night; hears back at once; Ana is paged, taps, replies; Dana gets it."""
    app = evening_app
    page = _open_page(app, tg)

    # The client was told when to expect an answer, naming who is on call.
    [ack_to_client] = eventually(lambda: texts_to(tg, 200000042))
    assert "Dana" in ack_to_client and "Ana" in ack_to_client

    press = tg.press_button(ANA, 100000002, page["message_id"])
    assert deliver(tg, app, press) == 200
    eventually(lambda: tg.answer_of(press["callback_query"]["id"]))

    reply = tg.reply_update(ANA, 100000002, page["message_id"], "On it, back up in 10 minutes.")
    assert deliver(tg, app, reply) == 200
    eventually(lambda: texts_to(tg, 200000042)[-1] == "On it, back up in 10 minutes.")
    [conv] = conversations(app)
    out = [m for m in conversation(app, conv["id"])["messages"] if m["direction"] == "out"]
    assert out[-1]["text"] == "On it, back up in 10 minutes."
    assert out[-1]["author"]["id"] == "ana"
    # Ana is told it went out.
    eventually(lambda: any(t.startswith("Sent") for t in texts_to(tg, 100000002)))
