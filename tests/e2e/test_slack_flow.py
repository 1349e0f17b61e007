"""Slack end to end: the app on loopback with its worker, Bolt and the real slack_sdk, the Web
API stand-in receiving what the app posts, and events, button presses and slash commands
delivered to `POST /webhooks/slack` signed as Slack signs them."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import func, select

from adapters.standins.slack import SlackStandIn
from adapters.standins.twilio import TwilioStandIn
from bot.channels.slack.inbox_mirror import MIRROR
from routing.clock import Clock, FrozenClock, OffsetClock
from storage.tables import InboundDeliveryRow, OutboxRow
from tests.e2e.conftest import MONDAY_MORNING, SLACK_SECRET, SLACK_TOKEN
from tests.e2e.test_sms_flow import conversation, conversations, eventually
from tests.support.app import RunningApp, running_app

TOKEN, SECRET = SLACK_TOKEN, SLACK_SECRET
PATH = "/webhooks/slack"
INBOX = "C0INBOX000"  # [channels.slack] staff_channel
SHARED = "C0ACMESHRD"  # Acme's shared channel
DANA = "U0DANAREYS"  # Acme Robotics contact (priority)
GEORGE = "U0GEORGEHL"  # Thames Analytics contact
JIM = "U0JIMMILLR"  # staff, notify = slack first
KIM = "U0KIMLEE00"  # staff
ACME_GUEST = "U0ACMEGUES"  # someone of Acme's in the shared channel, not a configured contact
STRANGER = "U0STRANGER"
DANA_SMS = "+13135550142"


@contextlib.contextmanager
def slack_app(
    db_url: str, twilio: TwilioStandIn, slack: SlackStandIn, clock: Clock
) -> Iterator[RunningApp]:
    """tests.support.app.running_app with the Slack channel on."""
    with running_app(
        db_url,
        twilio.url,
        clock=clock,
        SLACK_BOT_TOKEN=TOKEN,
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=slack.api_url,
    ) as running:
        yield running


@pytest.fixture
def app(db_url: str, twilio: TwilioStandIn, slack: SlackStandIn) -> Iterator[RunningApp]:
    with slack_app(db_url, twilio, slack, OffsetClock(MONDAY_MORNING)) as running:
        yield running


def send_event(slack: SlackStandIn, app: RunningApp, event: dict[str, Any], **kw: Any) -> int:
    response = slack.deliver_event(app.url + PATH, event, **kw)
    return response.status_code


def roots(slack: SlackStandIn) -> list[dict[str, Any]]:
    return slack.messages(INBOX)


def thread_texts(slack: SlackStandIn, root: dict[str, Any]) -> list[str]:
    return [m["text"] for m in slack.thread(INBOX, root["ts"])]


def only_root(slack: SlackStandIn) -> dict[str, Any]:
    [root] = eventually(lambda: roots(slack))
    return root


def messages_of(app: RunningApp, conv_id: int) -> list[dict[str, Any]]:
    return conversation(app, conv_id)["messages"]  # type: ignore[no-any-return]


SOON = timedelta(seconds=5)  # what is due within this is waited for; later retries are not


def settled(app: RunningApp) -> None:
    """Until the worker has routed the journal, sent the outbox and synced the staff threads."""

    def quiet() -> bool:
        now = app.container.clock.now()
        with app.container.services.uow() as uow:
            pending = uow.inbound.pending_count()
            due = uow.session.execute(
                select(func.count())
                .select_from(OutboxRow)
                .where(
                    OutboxRow.state.in_(("pending", "sending")),
                    OutboxRow.next_attempt_at <= now + SOON,
                )
            ).scalar_one()
            followups = uow.timers.pending("message:")  # a filed message's commitment, ack…
            syncs = [  # due soon, or running (its due time is its lease's end then)
                t
                for t in uow.timers.pending(f"{MIRROR}:")
                if t.due_at <= now + SOON or t.locked_until is not None
            ]
        return pending == 0 and due == 0 and not followups and not syncs

    eventually(quiet)


# --- inbound: the door -----------------------------------------------------------------------


def test_url_verification_is_answered(app: RunningApp, slack: SlackStandIn) -> None:
    response = slack.deliver(app.url + PATH, slack.url_verification("challenge-123"))
    assert response.status_code == 200
    assert response.json() == {"challenge": "challenge-123"}


def test_bad_or_stale_signatures_get_401_and_change_nothing(
    app: RunningApp, slack: SlackStandIn
) -> None:
    event = slack.dm_event(DANA, "forged")
    envelope = slack.envelope(event)
    url = app.url + PATH
    assert slack.deliver(url, envelope, secret="not-the-secret").status_code == 401
    assert slack.deliver(url, envelope, signature="v0=" + "0" * 64).status_code == 401
    stale = int(time.time()) - 6 * 60
    assert slack.deliver(url, envelope, timestamp=stale).status_code == 401
    time.sleep(0.3)
    with app.container.services.uow() as uow:
        assert uow.inbound.pending_count() == 0
    assert conversations(app) == []
    # The same event, signed properly, is still accepted: nothing was claimed.
    assert slack.deliver(url, envelope).status_code == 200
    eventually(lambda: len(conversations(app)) == 1)


def test_a_dm_from_a_contact_is_a_client_message(app: RunningApp, slack: SlackStandIn) -> None:
    assert send_event(slack, app, slack.dm_event(DANA, "Can we move the launch?")) == 200
    [conv] = eventually(lambda: conversations(app))
    assert conv["channel"] == "slack"
    assert conv["client"] == {"id": "acme", "name": "Acme Robotics"}
    assert conv["contact"]["name"] == "Dana Reyes" and conv["contact"]["address"] == DANA
    [msg] = messages_of(app, conv["id"])
    assert msg["direction"] == "in" and msg["text"] == "Can we move the launch?"
    # An answer from the inbox goes back into Dana's DM.
    with app.api() as api:
        reply = api.post(f"/api/conversations/{conv['id']}/reply", json={"text": "Yes."})
    assert reply.status_code == 202
    dm = SlackStandIn.dm_channel(DANA)
    eventually(lambda: [m["text"] for m in slack.messages(dm)] == ["Yes."])


def test_a_retried_event_is_handled_once(app: RunningApp, slack: SlackStandIn) -> None:
    event = slack.dm_event(DANA, "Only once, please")
    envelope = slack.envelope(event)
    url = app.url + PATH
    assert slack.deliver(url, envelope).status_code == 200
    # Slack retries when our answer was slow, or was an error: the same event_id each time.
    assert slack.deliver(url, envelope, retry_num=1, retry_reason="http_timeout").status_code == 200
    assert slack.deliver(url, envelope, retry_num=2, retry_reason="http_error").status_code == 200
    [conv] = eventually(lambda: conversations(app))
    settled(app)
    assert [m["text"] for m in messages_of(app, conv["id"])] == ["Only once, please"]
    with app.container.services.uow() as uow:
        journalled = uow.session.execute(
            select(func.count()).select_from(InboundDeliveryRow)
        ).scalar_one()
    assert journalled == 1


def test_a_retry_of_an_event_we_never_took_is_processed(
    app: RunningApp, slack: SlackStandIn
) -> None:
    envelope = slack.envelope(slack.dm_event(DANA, "Did this arrive?"))
    # The first delivery never reached us (a forged copy is all we saw); Slack's retry works.
    assert slack.deliver(app.url + PATH, envelope, secret="wrong").status_code == 401
    response = slack.deliver(app.url + PATH, envelope, retry_num=1, retry_reason="http_error")
    assert response.status_code == 200
    [conv] = eventually(lambda: conversations(app))
    assert [m["text"] for m in messages_of(app, conv["id"])] == ["Did this arrive?"]


def test_the_bots_own_messages_are_ignored(app: RunningApp, slack: SlackStandIn) -> None:
    assert send_event(slack, app, slack.dm_event(DANA, "Hello?")) == 200
    root = only_root(slack)
    eventually(lambda: thread_texts(slack, root))
    posted_before = len(slack.calls("chat.postMessage"))
    # Slack tells the app about every message the bot posted: the root, its thread, a DM.
    assert send_event(slack, app, slack.echo_event(INBOX, root["ts"])) == 200
    [item] = slack.thread(INBOX, root["ts"])
    assert send_event(slack, app, slack.echo_event(INBOX, item["ts"])) == 200
    dm_echo = slack.message_event(
        slack.bot_user_id,
        SlackStandIn.dm_channel(DANA),
        "auto reply",
        channel_type="im",
        bot_id=slack.bot_id,
    )
    assert send_event(slack, app, dm_echo) == 200
    time.sleep(0.5)
    settled(app)
    [conv] = conversations(app)
    assert len(messages_of(app, conv["id"])) == 1
    assert len(slack.calls("chat.postMessage")) == posted_before


def test_an_unknown_dm_goes_to_triage(app: RunningApp, slack: SlackStandIn) -> None:
    assert send_event(slack, app, slack.dm_event(STRANGER, "Are you hiring?")) == 200
    [conv] = eventually(lambda: conversations(app))
    assert conv["client"]["id"] is None and conv["contact"]["address"] == STRANGER


# --- clients in shared channels ------------------------------------------------------------


def promise(app: RunningApp, conv_id: int) -> str | None:
    """The state of the conversation's current commitment (None until its follow-up ran)."""
    current = conversation(app, conv_id)["commitment"]
    return current["state"] if current else None


def in_messages(app: RunningApp, conv_id: int) -> list[dict[str, Any]]:
    return [m for m in messages_of(app, conv_id) if m["direction"] == "in"]


def test_a_client_in_the_shared_channel_is_the_clients(
    app: RunningApp, slack: SlackStandIn
) -> None:
    slack.add_user(ACME_GUEST, "Priya Shah", "Priya")
    event = slack.message_event(ACME_GUEST, SHARED, "Is the embargo still Thursday?")
    assert send_event(slack, app, event) == 200
    [conv] = eventually(lambda: conversations(app))
    assert conv["client"]["id"] == "acme"  # known by the channel, not by a contact entry
    assert conv["contact"]["address"] == SHARED  # the channel's conversation, not Priya's
    eventually(lambda: promise(app, conv["id"]) == "pending")
    [msg] = in_messages(app, conv["id"])
    assert msg["author"]["type"] == "contact" and msg["author"]["name"] == "Priya"
    # A channel that is no client's is not a conversation.
    assert send_event(slack, app, slack.message_event(ACME_GUEST, "C0RANDOM00", "lunch?")) == 200
    settled(app)
    assert len(conversations(app)) == 1


def test_members_writing_in_the_shared_channel_share_one_conversation_and_one_promise(
    app: RunningApp, slack: SlackStandIn
) -> None:
    slack.add_user(ACME_GUEST, "Priya Shah")
    first = slack.message_event(DANA, SHARED, "Can you send the draft?")
    assert send_event(slack, app, first) == 200
    [conv] = eventually(lambda: conversations(app))
    eventually(lambda: promise(app, conv["id"]) == "pending")
    second = slack.message_event(ACME_GUEST, SHARED, "And the press kit, please.")
    assert send_event(slack, app, second) == 200
    assert send_event(slack, app, slack.message_event(ACME_GUEST, SHARED, "Thanks!")) == 200

    def three() -> list[dict[str, Any]]:
        found = in_messages(app, conv["id"])
        assert len(found) == 3
        return found

    dana, priya, thanks = eventually(three)
    assert [len(conversations(app))] == [1]
    assert (dana["author"]["name"], priya["author"]["name"]) == ("Dana Reyes", "Priya Shah")
    assert dana["author"]["id"] != priya["author"]["id"] == thanks["author"]["id"]
    # Priya's name came from users.info, asked once; Dana is configured, never looked up.
    assert [c.params["user"] for c in slack.calls("users.info")] == [ACME_GUEST]

    # Jim answers in the channel: the one promise, Dana's, is met.
    answer = slack.message_event(JIM, SHARED, "Both within the hour.")
    assert send_event(slack, app, answer) == 200
    eventually(lambda: promise(app, conv["id"]) == "met")
    settled(app)
    view = conversation(app, conv["id"])
    assert [c["state"] for c in view["commitments"]] == ["met"]
    assert [c["id"] for c in conversations(app) if promise(app, c["id"]) != "met"] == []
    # The staff thread names each member.
    root = only_root(slack)
    texts = eventually(lambda: [t for t in thread_texts(slack, root) if "Priya" in t])
    assert texts[0].startswith("Priya Shah (Slack): And the press kit")


def test_a_member_slack_cannot_name_yet_is_still_the_clients_and_named_later(
    app: RunningApp, slack: SlackStandIn
) -> None:
    slack.fail_next(method="users.info", status=200, error="user_not_found")
    early = slack.message_event(ACME_GUEST, SHARED, "Hello from the guest account")
    assert send_event(slack, app, early) == 200
    [conv] = eventually(lambda: conversations(app))
    assert conv["client"]["id"] == "acme"  # not an unknown sender, though unnamed
    slack.add_user(ACME_GUEST, "Priya Shah")
    assert send_event(slack, app, slack.message_event(ACME_GUEST, SHARED, "It's Priya")) == 200

    def named() -> list[dict[str, Any]]:
        found = in_messages(app, conv["id"])
        assert len(found) == 2 and all(m["author"]["name"] == "Priya Shah" for m in found)
        return found

    eventually(named)
    assert len(slack.calls("users.info")) == 2  # the failed lookup was tried again


def test_a_dm_stays_its_own_conversation_beside_the_channels(
    app: RunningApp, slack: SlackStandIn
) -> None:
    assert send_event(slack, app, slack.message_event(DANA, SHARED, "In the channel")) == 200
    assert send_event(slack, app, slack.dm_event(DANA, "Just between us")) == 200
    found = eventually(lambda: (lambda c: c if len(c) == 2 else None)(conversations(app)))
    assert sorted(c["contact"]["address"] for c in found) == sorted([SHARED, DANA])
    # Jim's answer in the channel meets the channel's promise, not Dana's private one.
    assert send_event(slack, app, slack.message_event(JIM, SHARED, "Seen!")) == 200

    def states() -> dict[str, str]:
        got = {c["contact"]["address"]: promise(app, c["id"]) for c in conversations(app)}
        assert got[SHARED] == "met"
        return got

    assert eventually(states)[DANA] == "pending"


def test_edits_and_deletions_change_the_message_in_place(
    app: RunningApp, slack: SlackStandIn
) -> None:
    files = [{"id": "F0LOGO", "name": "logo.png", "mimetype": "image/png"}]
    photo = slack.message_event(DANA, SHARED, "Logo v2", files=files)
    original = slack.message_event(DANA, SHARED, "Launch Tuesday")
    for event in (photo, original):
        assert send_event(slack, app, event) == 200
    [conv] = eventually(lambda: conversations(app))
    eventually(lambda: len(in_messages(app, conv["id"])) == 2)
    root = only_root(slack)
    eventually(lambda: len(thread_texts(slack, root)) == 2)
    # Answered before the edit: the edit must not start a promise of its own.
    assert send_event(slack, app, slack.message_event(JIM, SHARED, "Noted")) == 200
    eventually(lambda: promise(app, conv["id"]) == "met")

    edit = slack.envelope(slack.edit_event(original, "Launch Wednesday"))
    assert slack.deliver(app.url + PATH, edit).status_code == 200
    # Slack retries the same event (our answer was an error): recorded once.
    retried = slack.deliver(app.url + PATH, edit, retry_num=1, retry_reason="http_error")
    assert retried.status_code == 200

    def edited() -> list[dict[str, Any]]:
        found = in_messages(app, conv["id"])
        assert found[1]["text"] == "Launch Wednesday"
        return found

    first, second = eventually(edited)
    settled(app)
    first, second = in_messages(app, conv["id"])
    assert first["text"] == "Logo v2" and first["edits"] == []
    assert first["attachments"] == [
        {"file_id": "F0LOGO", "name": "logo.png", "content_type": "image/png"}
    ]
    assert [e["text"] for e in second["edits"]] == ["Launch Tuesday"]
    assert [c["state"] for c in conversation(app, conv["id"])["commitments"]] == ["met"]
    # The staff thread says so, once.
    edits_shown = [t for t in thread_texts(slack, root) if "edited a message" in t]
    assert edits_shown == ["Dana Reyes edited a message (Slack): Launch Wednesday"]

    assert send_event(slack, app, slack.delete_event(original)) == 200

    def deleted() -> dict[str, Any]:
        message = in_messages(app, conv["id"])[1]
        assert message["text"] == "(message deleted)"
        return message

    assert [e["text"] for e in eventually(deleted)["edits"]] == [
        "Launch Tuesday",
        "Launch Wednesday",
    ]
    eventually(lambda: any("deleted a message" in t for t in thread_texts(slack, root)))
    # Deleting a message we never held records nothing.
    unknown = slack.message_event(DANA, SHARED, "never delivered")
    assert send_event(slack, app, slack.delete_event(unknown)) == 200
    settled(app)
    assert len(in_messages(app, conv["id"])) == 2


# --- the staff inbox -----------------------------------------------------------------------


def test_every_conversation_is_one_thread_of_the_staff_channel(
    app: RunningApp, slack: SlackStandIn
) -> None:
    app.post_sms(app.sms_form("SM" + "1" * 32, DANA_SMS, "Can we move the launch?"))
    root = only_root(slack)
    assert "Acme Robotics" in root["text"] and "Dana Reyes" in root["text"]
    assert "SMS" in root["text"] and "Reply due by Mon 07 Dec 10:30 EST" in root["text"]
    eventually(lambda: thread_texts(slack, root) == ["Dana Reyes (SMS): Can we move the launch?"])
    app.post_sms(app.sms_form("SM" + "2" * 32, DANA_SMS, "It's urgent."))
    eventually(lambda: len(thread_texts(slack, root)) == 2)
    # A conversation on another channel gets a thread of its own.
    assert send_event(slack, app, slack.dm_event(GEORGE, "Quick question")) == 200
    eventually(lambda: len(roots(slack)) == 2)
    assert "Thames Analytics" in roots(slack)[1]["text"]


def test_a_thread_reply_reaches_an_sms_client_and_meets_the_commitment(
    app: RunningApp, slack: SlackStandIn, twilio: TwilioStandIn
) -> None:
    app.post_sms(app.sms_form("SM" + "3" * 32, DANA_SMS, "Can we move the launch?"))
    root = only_root(slack)
    eventually(lambda: thread_texts(slack, root))
    reply = slack.message_event(KIM, INBOX, "Yes, Tuesday works.", thread_ts=root["ts"])
    assert send_event(slack, app, reply) == 200
    [sent] = twilio.wait_for(1)
    assert sent.field("To") == DANA_SMS and sent.field("Body") == "Yes, Tuesday works."
    [conv] = conversations(app)

    def answered() -> dict[str, Any]:
        view = conversation(app, conv["id"])
        assert view["commitment"]["state"] == "met"
        return view

    out = [m for m in eventually(answered)["messages"] if m["direction"] == "out"]
    assert out[0]["author"] == {"type": "staff", "id": "kim", "name": "Kim Lee"}
    # The root says so; the reply typed in the thread is not posted into it again.
    eventually(lambda: "Answered in time" in slack.message(INBOX, root["ts"])["text"])
    settled(app)
    assert thread_texts(slack, root) == ["Dana Reyes (SMS): Can we move the launch?"]


def test_note_in_the_thread_stays_internal(
    app: RunningApp, slack: SlackStandIn, twilio: TwilioStandIn
) -> None:
    app.post_sms(app.sms_form("SM" + "4" * 32, DANA_SMS, "Any news?"))
    root = only_root(slack)
    note = slack.message_event(KIM, INBOX, "note: waiting on legal", thread_ts=root["ts"])
    assert send_event(slack, app, note) == 200
    [conv] = conversations(app)

    def noted() -> dict[str, Any]:
        messages = messages_of(app, conv["id"])
        notes = [m for m in messages if m["direction"] == "note"]
        assert notes
        return notes[0]

    assert eventually(noted)["text"] == "waiting on legal"
    settled(app)
    assert twilio.requests.all() == []  # nothing went to the client
    assert conversation(app, conv["id"])["commitment"]["state"] == "pending"
    # Someone who is not staff replying in the thread is ignored.
    intruder = slack.message_event(STRANGER, INBOX, "hello?", thread_ts=root["ts"])
    assert send_event(slack, app, intruder) == 200
    settled(app)
    assert len(messages_of(app, conv["id"])) == 2


def test_the_root_follows_the_commitment_as_it_becomes_at_risk_and_breached(
    db_url: str, twilio: TwilioStandIn, slack: SlackStandIn
) -> None:
    clock = FrozenClock(MONDAY_MORNING)
    with slack_app(db_url, twilio, slack, clock) as app:
        assert send_event(slack, app, slack.dm_event(DANA, "Can you call me?")) == 200
        root = only_root(slack)
        assert "⏳ Reply due by Mon 07 Dec 10:30 EST" in root["text"]

        # Priority: 30 business minutes, at risk at 75% (10:22:30). No message marks either.
        def shows(text: str) -> bool:
            clock.advance(timedelta(seconds=1))  # time passes while we look
            app.container.wakeup.notify()
            return text in slack.message(INBOX, root["ts"])["text"]

        clock.set(MONDAY_MORNING + timedelta(minutes=23))
        eventually(lambda: shows("⚠️ At risk"))
        clock.set(MONDAY_MORNING + timedelta(minutes=31))
        eventually(lambda: shows("🔴 Breached"))
        assert len(roots(slack)) == 1  # edited in place, never posted again


def test_a_staff_dm_to_the_bot_gets_directions_once(app: RunningApp, slack: SlackStandIn) -> None:
    envelope = slack.envelope(slack.dm_event(KIM, "hi bot"))
    assert slack.deliver(app.url + PATH, envelope).status_code == 200
    kim_dm = SlackStandIn.dm_channel(KIM)
    [told] = eventually(lambda: slack.messages(kim_dm))
    assert "Acknowledge" in told["text"]
    assert (
        slack.deliver(app.url + PATH, envelope, retry_num=1, retry_reason="http_error").status_code
        == 200
    )
    settled(app)
    assert len(slack.messages(kim_dm)) == 1
    assert conversations(app) == []  # staff are never clients


def test_a_clients_channel_ping_and_links_are_escaped_in_the_mirror(
    app: RunningApp, slack: SlackStandIn
) -> None:
    text = "<!channel> look *now* <https://evil.example|your invoice> <@U0KIMLEE00>"
    assert send_event(slack, app, slack.dm_event(DANA, text)) == 200
    root = only_root(slack)
    [item] = eventually(lambda: slack.thread(INBOX, root["ts"]))
    for posted in (item, root):
        assert "<!" not in posted["text"] and "<http" not in posted["text"]
        assert "<@" not in posted["text"]
        assert posted["mrkdwn"] is False and posted["link_names"] is False
    assert "&lt;!channel&gt;" in item["text"] and "&lt;https://evil.example|" in item["text"]
    # What is shown is rich text: literal elements, never parsed for mentions or links.
    [block] = item["blocks"]
    assert block["type"] == "rich_text"
    elements = block["elements"][0]["elements"]
    assert {e["type"] for e in elements} == {"text"}
    assert any(e["text"] == text for e in elements)


def test_429_from_slack_is_waited_out(app: RunningApp, slack: SlackStandIn) -> None:
    assert send_event(slack, app, slack.dm_event(DANA, "Hello?")) == 200
    [conv] = eventually(lambda: conversations(app))
    root = only_root(slack)
    eventually(lambda: thread_texts(slack, root))
    slack.rate_limit(count=1, retry_after=0.3, method="chat.postMessage")
    with app.api() as api:
        reply = api.post(f"/api/conversations/{conv['id']}/reply", json={"text": "After the wait"})
    assert reply.status_code == 202
    dm = SlackStandIn.dm_channel(DANA)
    eventually(lambda: [m["text"] for m in slack.messages(dm)] == ["After the wait"])

    def sent() -> bool:
        out = [m for m in messages_of(app, conv["id"]) if m["direction"] == "out"]
        return out[0]["delivery"] == "sent"

    eventually(sent)
    refused = [c for c in slack.calls("chat.postMessage") if c.params.get("channel") == dm]
    assert len(refused) == 2  # one answered 429, one accepted after Retry-After
    # The thread shows the reply once, whatever was retried.
    eventually(lambda: len(thread_texts(slack, root)) == 2)
    settled(app)
    assert len(thread_texts(slack, root)) == 2


# --- pages and /oncall -----------------------------------------------------------------------

# Tuesday 24 November 2026, 20:00 in Detroit: after hours, Jim's week on the after-hours rotation.
TUESDAY_EVENING = datetime(2026, 11, 24, 20, 0, tzinfo=ZoneInfo("America/Detroit"))


@pytest.fixture
def evening_app(db_url: str, twilio: TwilioStandIn, slack: SlackStandIn) -> Iterator[RunningApp]:
    with slack_app(db_url, twilio, slack, OffsetClock(TUESDAY_EVENING)) as running:
        yield running


def pages(app: RunningApp) -> list[dict[str, Any]]:
    with app.api() as api:
        response = api.get("/api/pages")
    assert response.status_code == 200, response.text
    return response.json()["items"]  # type: ignore[no-any-return]


def test_acknowledge_pressed_twice_acknowledges_once(
    evening_app: RunningApp, slack: SlackStandIn
) -> None:
    app = evening_app
    assert send_event(slack, app, slack.dm_event(DANA, "Our site is down!")) == 200
    jim_dm = SlackStandIn.dm_channel(JIM)

    def paged() -> dict[str, Any]:
        found = [m for m in slack.messages(jim_dm) if m.get("blocks")]
        assert found
        return found[-1]

    page = eventually(paged)
    assert "Our site is down!" in page["blocks"][0]["elements"][0]["elements"][0]["text"]
    press = slack.block_action(JIM, jim_dm, page["ts"])
    assert slack.deliver(app.url + PATH, press, form=True).status_code == 200

    def acknowledged() -> dict[str, Any]:
        message = slack.message(jim_dm, page["ts"])
        assert "acknowledged by Jim Miller" in message["text"]
        return message

    updated = eventually(acknowledged)
    # The button is gone: the page's blocks without it, or none when the press came before
    # the worker recorded the page as sent (the pressed message is edited as it is).
    assert all(b["type"] != "actions" for b in updated.get("blocks", []))
    [record] = pages(app)
    assert record["state"] == "acknowledged" and record["acknowledged_by"] == "jim"

    # Pressed again (a stale screen, a double tap): nothing changes, and Jim is told.
    assert slack.deliver(app.url + PATH, press, form=True).status_code == 200
    [told] = eventually(lambda: slack.ephemeral(JIM))
    assert "already acknowledged" in told["text"]
    settled(app)
    [record] = pages(app)
    assert record["state"] == "acknowledged" and record["acknowledged_by"] == "jim"
    assert len(slack.calls("chat.update")) == 1


def test_someone_else_pressing_acknowledges_nothing(
    evening_app: RunningApp, slack: SlackStandIn
) -> None:
    app = evening_app
    assert send_event(slack, app, slack.dm_event(DANA, "Our site is down!")) == 200
    jim_dm = SlackStandIn.dm_channel(JIM)
    page = eventually(lambda: [m for m in slack.messages(jim_dm) if m.get("blocks")])[-1]
    press = slack.block_action(STRANGER, jim_dm, page["ts"])
    assert slack.deliver(app.url + PATH, press, form=True).status_code == 200
    [told] = eventually(lambda: slack.ephemeral(STRANGER))
    assert "Nothing was acknowledged" in told["text"]
    [record] = pages(app)
    assert record["state"] == "open"


def test_oncall_answers_staff_with_now_and_next(app: RunningApp, slack: SlackStandIn) -> None:
    command = slack.slash_command("/oncall", KIM, "D0KIMLEE00")
    response = slack.deliver(app.url + PATH, command, form=True)
    assert response.status_code == 200
    text = response.text  # Bolt answers a command's ack(text) with the message itself
    assert text.startswith("*On call now:*")
    # Monday 10:00, office open: the after-hours rotation (Raj's week) has nobody until noon.
    assert "• after-hours: nobody until Mon 07 Dec 12:00 EST; next: Raj Patel" in text
    assert "• leadership: Kim Lee" in text and "next: Kim" not in text
    refused = slack.deliver(
        app.url + PATH, slack.slash_command("/oncall", STRANGER, "D0X"), form=True
    )
    assert refused.text == "/oncall is for the agency's staff."
    forged = slack.deliver(app.url + PATH, command, form=True, secret="wrong")
    assert forged.status_code == 401


def test_without_slack_configured_the_webhook_is_off(db_url: str, twilio: TwilioStandIn) -> None:

    with running_app(db_url, twilio.url, clock=OffsetClock(MONDAY_MORNING)) as plain:
        response = httpx.post(plain.url + PATH, content=b"{}", timeout=10)
    assert response.status_code in (404, 503)
