"""Commitments through the SMS channel on the example agency's real calendars.

The clock is frozen at the instant of each story and moved by the test; the worker is woken
after each move, so at-risk and breach timers fire at once instead of after an hour.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from adapters.standins.twilio import TwilioStandIn
from routing.clock import FrozenClock
from tests.e2e.test_sms_flow import conversation, conversations, eventually
from tests.support.app import RunningApp, running_app

DETROIT = ZoneInfo("America/Detroit")
DANA, LUCY, GEORGE = "+13135550142", "+13135550150", "+447700900123"
RAJ = "+13135550103"


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=DETROIT)  # type: ignore[misc]


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(local(2026, 12, 7, 10, 0))


@pytest.fixture
def app(db_url: str, twilio: TwilioStandIn, clock: FrozenClock) -> Iterator[RunningApp]:
    with running_app(db_url, twilio.url, clock=clock) as running:
        yield running


_sid = iter(range(10**6))


def text_in(app: RunningApp, sender: str, body: str = "Quick question") -> dict[str, Any]:
    """The client texts; returns their conversation as the API shows it."""
    sid = f"SM{next(_sid):032d}"
    assert app.post_sms(app.sms_form(sid, sender, body)).status_code == 200
    [conv] = [c for c in conversations(app) if c["contact"]["address"] == sender]
    return conv


def acknowledgements(twilio: TwilioStandIn, number: str, count: int = 1) -> list[str]:
    eventually(lambda: len(twilio.sent_to(number)) >= count)
    time.sleep(0.2)  # would a second one follow? it must not
    return [m["body"] for m in twilio.sent_to(number)]


def move(app: RunningApp, clock: FrozenClock, to: datetime) -> None:
    clock.set(to)
    app.container.wakeup.notify()


def test_weekday_evening_priority_client_gets_an_hour_and_an_honest_acknowledgement(
    app: RunningApp, clock: FrozenClock, twilio: TwilioStandIn
) -> None:
    clock.set(local(2026, 12, 8, 19, 5))  # a Tuesday, after the office closed at 17:30
    conv = text_in(app, DANA)
    c = conv["commitment"]
    assert c["state"] == "pending" and c["after_hours"] is True
    assert datetime.fromisoformat(c["due_at"]) == local(2026, 12, 8, 20, 5)
    assert datetime.fromisoformat(c["at_risk_at"]) == local(2026, 12, 8, 19, 50)
    assert conv["due_at"] == c["due_at"]
    [ack] = acknowledgements(twilio, DANA)
    assert ack.startswith("Thanks Dana. It's after hours at Lakeshore Communications")
    assert ack.endswith("you'll hear back by 8:05 PM EST.")
    # A second message joins the same commitment: no second acknowledgement.
    clock.advance(timedelta(minutes=2))
    text_in(app, DANA, "also, one more thing")
    assert acknowledgements(twilio, DANA) == [ack]
    assert len(conversation(app, conv["id"])["commitments"]) == 1


def test_weekday_evening_standard_client_is_promised_the_next_business_day(
    app: RunningApp, clock: FrozenClock, twilio: TwilioStandIn
) -> None:
    clock.set(local(2026, 12, 8, 19, 5))
    conv = text_in(app, LUCY)
    # Wednesday 09:00 + 4h of business time.
    assert datetime.fromisoformat(conv["due_at"]) == local(2026, 12, 9, 13, 0)
    [ack] = acknowledgements(twilio, LUCY)
    assert ack == (
        "Thanks Lucy, your message reached Lakeshore Communications. We're out of the office "
        "right now; you'll hear from us by Wednesday 1:00 PM EST."
    )


def test_friday_after_close_standard_runs_into_monday_around_lunch(
    app: RunningApp, clock: FrozenClock, twilio: TwilioStandIn
) -> None:
    clock.set(local(2026, 12, 11, 16, 55))  # Friday; the office closed at 16:00
    conv = text_in(app, LUCY)
    # Monday 09:00-12:00 gives 3h, the lunch break counts nothing, 13:00-14:00 the fourth.
    assert datetime.fromisoformat(conv["due_at"]) == local(2026, 12, 14, 14, 0)
    assert acknowledgements(twilio, LUCY)[0].endswith("by Monday 2:00 PM EST.")


def test_thanksgiving_is_closed_and_so_is_the_day_after(
    app: RunningApp, clock: FrozenClock, twilio: TwilioStandIn
) -> None:
    clock.set(local(2026, 11, 26, 10, 0))  # Thanksgiving, a Thursday: a public holiday
    conv = text_in(app, LUCY)
    assert conv["commitment"]["after_hours"] is True
    # Friday 27th is a Michigan state holiday too: Monday 09:00 + 4h = 14:00.
    assert datetime.fromisoformat(conv["due_at"]) == local(2026, 11, 30, 14, 0)
    assert acknowledgements(twilio, LUCY)[0].endswith("by Monday 2:00 PM EST.")


def test_monday_lunch_break_is_after_hours(
    app: RunningApp, clock: FrozenClock, twilio: TwilioStandIn
) -> None:
    clock.set(local(2026, 12, 7, 12, 15))
    lucy = text_in(app, LUCY)
    assert lucy["commitment"]["after_hours"] is True
    # The next opening is 13:00, plus 4h of business time.
    assert datetime.fromisoformat(lucy["due_at"]) == local(2026, 12, 7, 17, 0)
    assert acknowledgements(twilio, LUCY)[0].endswith("by 5:00 PM EST.")
    dana = text_in(app, DANA)
    assert datetime.fromisoformat(dana["due_at"]) == local(2026, 12, 7, 13, 15)


def test_across_the_november_dst_change(
    app: RunningApp, clock: FrozenClock, twilio: TwilioStandIn
) -> None:
    clock.set(local(2026, 10, 31, 20, 0))  # Saturday evening, EDT (UTC-4)
    lucy = text_in(app, LUCY)
    due = datetime.fromisoformat(lucy["due_at"])
    # Monday after the change, EST (UTC-5): 09:00-12:00 and 13:00-14:00.
    assert due == local(2026, 11, 2, 14, 0)
    assert due.utcoffset() == timedelta(0) and due.hour == 19  # 14:00 EST is 19:00 UTC
    # An hour of wall-clock time from 01:30 EDT ends at the second 01:30, in EST.
    clock.set(datetime(2026, 11, 1, 5, 30, tzinfo=ZoneInfo("UTC")))  # 01:30 EDT
    dana = text_in(app, DANA)
    assert datetime.fromisoformat(dana["due_at"]) == datetime(
        2026, 11, 1, 6, 30, tzinfo=ZoneInfo("UTC")
    )
    assert acknowledgements(twilio, DANA)[0].endswith("by 1:30 AM EST.")


def test_london_client_is_told_the_time_in_london(
    app: RunningApp, clock: FrozenClock, twilio: TwilioStandIn
) -> None:
    clock.set(local(2026, 12, 8, 19, 5))  # 00:05 on Wednesday in London
    text_in(app, GEORGE)
    assert acknowledgements(twilio, GEORGE)[0].endswith("by 1:05 AM GMT.")


def test_no_acknowledgement_during_business_hours_or_to_an_opted_out_number(
    app: RunningApp, clock: FrozenClock, twilio: TwilioStandIn
) -> None:
    clock.set(local(2026, 12, 8, 10, 0))
    conv = text_in(app, DANA)
    assert conv["commitment"]["after_hours"] is False
    assert datetime.fromisoformat(conv["due_at"]) == local(2026, 12, 8, 10, 30)
    text_in(app, LUCY, "STOP")
    clock.set(local(2026, 12, 8, 21, 0))
    lucy = text_in(app, LUCY, "are you there?")
    assert lucy["commitment"]["after_hours"] is True  # the promise stands, silently
    time.sleep(0.5)
    assert twilio.sent_to(DANA) == [] and twilio.sent_to(LUCY) == []


def test_reply_meets_the_commitment_and_the_next_message_starts_another(
    app: RunningApp, clock: FrozenClock
) -> None:
    clock.set(local(2026, 12, 8, 10, 0))
    conv = text_in(app, DANA)
    clock.advance(timedelta(minutes=12))
    with app.api() as api:
        assert (
            api.post(f"/api/conversations/{conv['id']}/reply", json={"text": "On it"}).status_code
            == 202
        )
    detail = conversation(app, conv["id"])
    assert detail["commitment"]["state"] == "met"
    assert datetime.fromisoformat(detail["commitment"]["met_at"]) == local(2026, 12, 8, 10, 12)
    assert detail["due_at"] is None
    clock.advance(timedelta(minutes=30))
    again = text_in(app, DANA, "thanks! and another thing")
    history = conversation(app, again["id"])["commitments"]
    assert [c["state"] for c in history] == ["met", "pending"]
    assert [e["state"] for e in history[0]["events"]] == ["pending", "met"]


def test_closing_without_a_reply_is_unanswered_not_met(app: RunningApp, clock: FrozenClock) -> None:
    clock.set(local(2026, 12, 8, 10, 0))
    conv = text_in(app, DANA)
    with app.api() as api:
        closed = api.post(f"/api/conversations/{conv['id']}/close").json()
    assert closed["commitment"]["state"] == "unanswered"
    assert closed["due_at"] is None


def test_at_risk_then_breached_driven_by_durable_timers(
    app: RunningApp, clock: FrozenClock, twilio: TwilioStandIn
) -> None:
    clock.set(local(2026, 12, 8, 10, 0))  # business hours: 4h of business time for Lucy
    conv = text_in(app, LUCY)
    assert datetime.fromisoformat(conv["commitment"]["at_risk_at"]) == local(2026, 12, 8, 13, 0)

    move(app, clock, local(2026, 12, 8, 13, 0))
    eventually(lambda: conversation(app, conv["id"])["commitment"]["state"] == "at_risk")
    with app.api() as api:
        at_risk = api.get("/api/conversations", params={"state": "at_risk"}).json()["items"]
    assert [c["id"] for c in at_risk] == [conv["id"]]
    # Raj, Brightside's account team, hears of it on his first notify channel (SMS).
    [notice] = eventually(lambda: twilio.sent_to(RAJ))
    assert notice["body"].startswith("At risk: Brightside Bakery (Lucy Chen, sms)")

    move(app, clock, local(2026, 12, 8, 14, 0, 1))
    detail = eventually(
        lambda: (d := conversation(app, conv["id"]))["commitment"]["state"] == "breached" and d
    )
    assert [e["state"] for e in detail["commitments"][0]["events"]] == [
        "pending",
        "at_risk",
        "breached",
    ]
    eventually(lambda: len(twilio.sent_to(RAJ)) == 2)
    assert twilio.sent_to(RAJ)[1]["body"].startswith("Breached: Brightside Bakery")
    # A late reply is recorded; the breach stands.
    with app.api() as api:
        api.post(f"/api/conversations/{conv['id']}/reply", json={"text": "Sorry for the wait"})
    late = conversation(app, conv["id"])["commitment"]
    assert late["state"] == "breached" and late["answered_at"] is not None


def test_sort_by_due_time_puts_the_most_urgent_first(app: RunningApp, clock: FrozenClock) -> None:
    clock.set(local(2026, 12, 8, 10, 0))
    lucy = text_in(app, LUCY)  # due 14:00
    clock.advance(timedelta(minutes=5))
    dana = text_in(app, DANA)  # due 10:35
    with app.api() as api:
        items = api.get("/api/conversations", params={"sort": "due_at"}).json()["items"]
        assert [c["id"] for c in items] == [dana["id"], lucy["id"]]
        page = api.get("/api/conversations", params={"sort": "due_at", "limit": 1}).json()
        rest = api.get(
            "/api/conversations",
            params={"sort": "due_at", "limit": 1, "cursor": page["next_cursor"]},
        ).json()
        assert [c["id"] for c in page["items"] + rest["items"]] == [dana["id"], lucy["id"]]
