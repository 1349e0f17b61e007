"""Escalation stories end to end through the stand-in Twilio, the way GoAlert's smoke tests
tell them: real app and worker, real timers, an escalation measured in seconds."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select

from adapters.standins.twilio import TwilioStandIn
from routing.clock import FrozenClock, OffsetClock
from storage.tables import OutboxRow, TimerRow
from tests.e2e.test_sms_flow import conversation, eventually
from tests.support.app import AUTH_TOKEN, RunningApp, running_app
from tests.support.twilio_signing import signed_form_post_headers

STORY_CONFIG = Path(__file__).resolve().parents[1] / "data" / "story_agency.toml"
DETROIT = ZoneInfo("America/Detroit")
DANA, GEORGE, OMAR = "+13135550142", "+447700900123", "+13135550143"
JIM, RAJ, KIM = "+13135550101", "+13135550103", "+13135550104"
# A Tuesday evening: the after-hours rotation is on its sixth week, so Raj is on call and Jim
# is next (members jim, ana, raj; weekly from 2026-11-02 09:00).
TUESDAY_EVENING = datetime(2026, 12, 8, 19, 5, tzinfo=DETROIT)
_sid = iter(range(10**6))


def text(app: RunningApp, sender: str, body: str) -> None:
    assert app.post_sms(app.sms_form(f"SM{next(_sid):032d}", sender, body)).status_code == 200


def bodies(twilio: TwilioStandIn, number: str) -> list[str]:
    return [m["body"] for m in twilio.sent_to(number)]


def sent_at(twilio: TwilioStandIn, number: str) -> list[float]:
    """When the stand-in received each message to `number` (monotonic), oldest first."""
    return [
        r.received
        for r in twilio.requests.all()
        if r.path.endswith("/Messages.json") and r.field("To") == number
    ]


def pages(app: RunningApp, **params: str) -> list[dict[str, Any]]:
    with app.api() as api:
        return api.get("/api/pages", params=params).json()["items"]  # type: ignore[no-any-return]


def paging_settled(app: RunningApp) -> bool:
    """No page step or notification is still due, and none is waiting to be sent or in flight:
    whatever the pages would still do has been done."""
    with app.container.db.session() as s:
        timer = s.execute(
            select(TimerRow.id).where(TimerRow.state == "pending", TimerRow.kind.like("page.%"))
        ).first()
        unsent = s.execute(
            select(OutboxRow.id).where(
                OutboxRow.kind == "page", OutboxRow.state.in_(("pending", "sending"))
            )
        ).first()
    return timer is None and unsent is None


@pytest.fixture
def story(db_url: str, twilio: TwilioStandIn) -> Iterator[RunningApp]:
    with running_app(
        db_url, twilio.url, clock=OffsetClock(TUESDAY_EVENING), config_path=STORY_CONFIG
    ) as app:
        yield app


def test_after_hours_page_escalates_until_acknowledged_then_the_answer_reaches_the_client(
    story: RunningApp, twilio: TwilioStandIn
) -> None:
    app = story
    text(app, DANA, "Our CEO is on TV in an hour and the statement has a typo!")

    # The client hears, honestly, who is on call and by when.
    [ack] = eventually(lambda: bodies(twilio, DANA))
    assert "Raj is on call: you'll hear back by 8:05 PM EST." in ack

    # Step 1: Raj, on call, by SMS, with what the client wrote and how to answer.
    [page_sms] = eventually(lambda: bodies(twilio, RAJ))
    assert "Dana Reyes (Acme Robotics) wrote on sms" in page_sms
    assert "statement has a typo" in page_sms and "Reply due by 8:05 PM EST." in page_sms
    assert "Reply ACK" in page_sms
    [page] = pages(app, state="open")
    assert page["step"] == 1

    # Nobody answers: three seconds later step 2 reaches Jim by SMS, then by a call.
    [jim_sms] = eventually(lambda: bodies(twilio, JIM), timeout=15)
    # The step waited: measured between the two pages as the stand-in received them.
    assert sent_at(twilio, JIM)[0] - sent_at(twilio, RAJ)[0] > 1.5
    assert f"Page {page['id']}" in jim_sms
    [call] = eventually(lambda: twilio.calls_to(JIM), timeout=10)
    assert call["_url"].startswith(app.public_url + "/webhooks/twilio/voice?")

    # Jim acknowledges by replying ACK; he is told it worked.
    text(app, JIM, "ACK")
    eventually(lambda: any("Acknowledged page" in b for b in bodies(twilio, JIM)))
    [acked] = pages(app, state="acknowledged")
    assert acked["acknowledged_by"] == "jim"

    # Silence after: step 3 (Kim) never comes, and nobody is notified again. Had the ACK left
    # the step pending, it would run when due (3 s after step 2), and this waits for that.
    eventually(lambda: paging_settled(app), timeout=15)
    assert bodies(twilio, KIM) == []
    assert len(bodies(twilio, RAJ)) == 1

    # Jim's answer is relayed to the client as the agency's reply; the page resolves.
    text(app, JIM, "Fixed it, the corrected statement is in your inbox.")
    eventually(
        lambda: "Fixed it, the corrected statement is in your inbox." in bodies(twilio, DANA)
    )
    [resolved] = pages(app, state="resolved")
    detail = conversation(app, resolved["conversation_id"])
    assert detail["commitment"]["state"] == "met"
    out = [m for m in detail["messages"] if m["direction"] == "out"]
    assert out[0]["author"] == {"type": "staff", "id": "jim", "name": "Jim Miller"}
    channels = sorted({(n["staff"], n["channel"]) for n in resolved["notifications"]})
    assert channels == [("jim", "sms"), ("jim", "voice"), ("raj", "sms")]


def test_pressing_4_on_the_paging_call_acknowledges(
    story: RunningApp, twilio: TwilioStandIn
) -> None:
    app = story
    text(app, DANA, "urgent")
    [call] = eventually(lambda: twilio.calls_to(JIM), timeout=15)
    url = call["_url"]
    headers, body = signed_form_post_headers(AUTH_TOKEN, url, {"CallSid": call["sid"]})
    internal = url.replace(app.public_url, app.url)
    twiml = httpx.post(internal, content=body, headers=headers).text
    assert "<Gather" in twiml and "Press 4 to acknowledge" in twiml and "urgent" in twiml
    # A forged Gather result acknowledges nothing.
    assert httpx.post(internal, data={"Digits": "4"}).status_code == 403
    assert pages(app, state="open")
    headers, body = signed_form_post_headers(
        AUTH_TOKEN, url, {"CallSid": call["sid"], "Digits": "4"}
    )
    answer = httpx.post(internal, content=body, headers=headers).text
    assert "acknowledged" in answer
    [acked] = pages(app, state="acknowledged")
    assert acked["acknowledged_by"] == "jim"


def test_a_number_that_is_not_staff_acknowledges_nothing(
    story: RunningApp, twilio: TwilioStandIn
) -> None:
    app = story
    text(app, DANA, "need you now")
    eventually(lambda: bodies(twilio, RAJ))
    text(app, OMAR, "ACK")  # a client's number: a client message, never an acknowledgement
    assert pages(app, state="open")
    assert pages(app, state="acknowledged") == []


def test_api_acknowledgement_and_a_second_one_is_refused(
    story: RunningApp, twilio: TwilioStandIn
) -> None:
    app = story
    text(app, DANA, "need you now")
    [page] = eventually(lambda: pages(app, state="open"))
    with app.api() as api:
        first = api.post(f"/api/pages/{page['id']}/ack")
        assert first.status_code == 200 and first.json()["acknowledged_by"] == "admin"
        again = api.post(f"/api/pages/{page['id']}/ack")
        assert again.status_code == 409 and "already" in again.json()["detail"]
        assert api.post("/api/pages/99999/ack").status_code == 404


@pytest.fixture
def frozen(db_url: str, twilio: TwilioStandIn) -> Iterator[tuple[RunningApp, FrozenClock]]:
    clock = FrozenClock(TUESDAY_EVENING)
    with running_app(db_url, twilio.url, clock=clock, config_path=STORY_CONFIG) as app:
        yield app, clock


def test_pages_for_one_person_within_two_minutes_go_out_as_one_message(
    frozen: tuple[RunningApp, FrozenClock], twilio: TwilioStandIn
) -> None:
    app, clock = frozen
    text(app, DANA, "first")
    eventually(lambda: bodies(twilio, RAJ))
    clock.advance(timedelta(seconds=1))
    text(app, GEORGE, "second")
    clock.advance(timedelta(seconds=1))
    text(app, OMAR, "third")
    time.sleep(0.5)
    assert len(bodies(twilio, RAJ)) == 1  # the two later pages wait for the window
    clock.advance(timedelta(minutes=2))
    app.container.wakeup.notify()
    eventually(lambda: len(bodies(twilio, RAJ)) == 2)
    second = bodies(twilio, RAJ)[1]
    assert "second" in second and "third" in second and "ACK <page>" in second
    time.sleep(0.3)
    assert len(bodies(twilio, RAJ)) == 2


def test_more_messages_while_a_page_is_open_do_not_page_again(
    frozen: tuple[RunningApp, FrozenClock], twilio: TwilioStandIn
) -> None:
    app, clock = frozen
    text(app, DANA, "one")
    eventually(lambda: bodies(twilio, RAJ))
    clock.advance(timedelta(seconds=30))
    text(app, DANA, "two")
    text(app, DANA, "three")
    assert len(pages(app)) == 1


def test_breach_while_the_page_is_open_notifies_the_last_steps_targets_again(
    frozen: tuple[RunningApp, FrozenClock], twilio: TwilioStandIn
) -> None:
    app, clock = frozen
    text(app, DANA, "hello?")
    eventually(lambda: bodies(twilio, RAJ))
    for _ in range(3):  # run the three steps: Raj, Jim (+ call), Kim
        clock.advance(timedelta(seconds=3))
        app.container.wakeup.notify()
        time.sleep(0.3)
    eventually(lambda: bodies(twilio, KIM))
    clock.set(TUESDAY_EVENING + timedelta(hours=1, seconds=1))  # due 20:05: breached
    app.container.wakeup.notify()
    eventually(lambda: len(bodies(twilio, KIM)) == 2)
    [page] = pages(app, state="open")
    assert page["step"] == 3
