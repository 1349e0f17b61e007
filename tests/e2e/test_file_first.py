"""File first: a client's message reaches the inbox whatever fails after it is filed.

The work that follows filing (commitment, acknowledgement, page, Slack mirror) is a durable
follow-up job, retried with backoff. These stories make that later work fail through the
real extension point every channel mirror uses (a before-commit hook of the services), and
check what staff, the metrics and the log then see. A poisoned journal row, timer and outbox
row among 200 good messages show that one bad item holds up no other.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from adapters.standins.twilio import TwilioStandIn
from bot.usecases.availability import AT_RISK
from routing.clock import OffsetClock
from routing.messages import Channel
from storage.inbound import JournalEntry, write_batch
from storage.tables import CommitmentRow, InboundDeliveryRow, MessageRow, OutboxRow, TimerRow
from storage.unit_of_work import UnitOfWork
from tests.browser.inbox_support import add_login, signed_in
from tests.e2e.test_sms_flow import conversation, conversations, eventually
from tests.support.app import RunningApp, running_app

DETROIT = ZoneInfo("America/Detroit")
DANA = "+13135550142"
# A Tuesday evening: every message is after hours, so each one is acknowledged.
TUESDAY_EVENING = datetime(2026, 12, 8, 19, 5, tzinfo=DETROIT)
MONDAY_MORNING = datetime(2026, 12, 7, 10, 0, tzinfo=DETROIT)


@pytest.fixture
def clock() -> OffsetClock:
    return OffsetClock(TUESDAY_EVENING)  # time flows, so that backoff elapses


@pytest.fixture
def app(db_url: str, twilio: TwilioStandIn, clock: OffsetClock) -> Iterator[RunningApp]:
    with running_app(db_url, twilio.url, clock=clock) as running:
        yield running


class FailingMirror:
    """A before-commit hook (the Slack mirror's extension point) that fails `times` times
    when handed a client's message, i.e. in a follow-up."""

    def __init__(self, times: int) -> None:
        self.left = times
        self.calls = 0

    def __call__(self, uow: UnitOfWork, message_ids: list[int]) -> None:
        directions = uow.session.execute(
            select(MessageRow.direction).where(MessageRow.id.in_(message_ids))
        ).scalars()
        if "in" not in set(directions):
            return
        self.calls += 1
        if self.left > 0:
            self.left -= 1
            raise RuntimeError("mirror is down")


def _metric(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


def _rows(app: RunningApp, table: Any, *where: Any) -> list[Any]:
    """Rows as plain named tuples, readable after the session is gone."""
    with app.container.services.uow() as uow:
        return list(uow.session.execute(select(*table.__table__.c).where(*where)).all())


def _followup_timers(app: RunningApp) -> list[Any]:
    return _rows(app, TimerRow, TimerRow.kind == "message.followup")


def _post(app: RunningApp, sid: str, body: str, sender: str = DANA) -> None:
    assert app.post_sms(app.sms_form(sid, sender, body), wait=False).status_code == 200


def test_a_failing_follow_up_never_hides_the_message_and_is_retried(
    app: RunningApp, twilio: TwilioStandIn
) -> None:
    # Each failing try meets the hook twice: in its batch's first round, which has no
    # savepoints, and in the round with savepoints that follows it (bot/jobs/worker.py,
    # `_in_parts`). Four failures: the try in the filing transaction, and one retry.
    mirror = FailingMirror(times=4)
    app.container.services.before_commit.append(mirror)
    retries = _metric("partnerline_followup_retries_total")

    _post(app, "SM" + "a" * 32, "Is the embargo still Thursday?")
    # Filed at once, before and whatever the follow-up does.
    [conv] = eventually(lambda: conversations(app))
    msg = conversation(app, conv["id"])["messages"][0]  # the acknowledgement may follow
    assert msg["direction"] == "in" and msg["text"] == "Is the embargo still Thursday?"

    # The follow-up failed twice, was retried with backoff, then did everything once.
    eventually(lambda: len(twilio.sent_to(DANA)) == 1)
    assert "you'll hear back by" in twilio.sent_to(DANA)[0]["body"]
    [timer] = _followup_timers(app)
    # Two failed tries (more only if the busy machine made SQLite time out too).
    assert timer.state == "done" and timer.attempts >= 2, timer
    assert _metric("partnerline_followup_retries_total") - retries == timer.attempts
    assert mirror.calls >= 5
    shown = conversation(app, conv["id"])
    assert shown["followup"] is None  # succeeded in the end: nothing left to show
    assert shown["commitment"]["state"] == "pending"
    with app.container.services.uow() as uow:  # one commitment, not one per attempt
        assert uow.session.execute(select(func.count(CommitmentRow.id))).scalar_one() == 1
    time.sleep(0.3)
    assert len(twilio.sent_to(DANA)) == 1  # and one acknowledgement


@pytest.fixture
def patient_app(db_url: str, twilio: TwilioStandIn, clock: OffsetClock) -> Iterator[RunningApp]:
    """Follow-ups retried for as long as a story needs, not given up after four tries."""
    with running_app(
        db_url, twilio.url, clock=clock, PARTNERLINE_OUTBOX_MAX_ATTEMPTS=1000
    ) as running:
        yield running


def test_staff_who_answer_while_the_follow_up_is_retried_get_no_promise_started_after(
    patient_app: RunningApp, twilio: TwilioStandIn
) -> None:
    app = patient_app
    mirror = FailingMirror(times=10**6)
    app.container.services.before_commit.append(mirror)
    _post(app, "SM" + "c" * 32, "Need the deck tonight")
    [conv] = eventually(lambda: conversations(app))
    eventually(lambda: (conversation(app, conv["id"])["followup"] or {}).get("state"))
    reply = app.api().post(f"/api/conversations/{conv['id']}/reply", json={"text": "Sent!"})
    assert reply.status_code == 202
    mirror.left = 0  # the mirror recovers; the follow-up's next try succeeds
    eventually(lambda: _followup_timers(app)[0].state == "done")
    shown = conversation(app, conv["id"])
    assert shown["commitment"] is None and shown["commitments"] == []
    assert shown["followup"] is None
    eventually(lambda: len(twilio.sent_to(DANA)) == 1)
    assert twilio.sent_to(DANA)[0]["body"] == "Sent!"  # the reply, and no acknowledgement


def test_a_follow_up_that_fails_for_good_is_shown_to_staff(
    app: RunningApp, twilio: TwilioStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    app.container.services.before_commit.append(FailingMirror(times=1000))
    failures = _metric("partnerline_followup_failures_total")
    caplog.set_level(logging.ERROR, logger="bot.usecases.services")

    _post(app, "SM" + "b" * 32, "Our CEO is on TV in an hour")
    [conv] = eventually(lambda: conversations(app))

    def given_up() -> dict[str, Any] | None:
        shown = conversation(app, conv["id"])
        return shown if (shown["followup"] or {}).get("state") == "failed" else None

    shown = eventually(given_up)
    assert "mirror is down" in shown["followup"]["error"]
    # The client's message is there, and a line from Partnerline says what did not happen.
    inbound, system = shown["messages"]
    assert inbound["direction"] == "in" and inbound["text"] == "Our CEO is on TV in an hour"
    assert system["direction"] == "note" and system["author"]["type"] == "system"
    assert "Please answer it yourself" in system["text"]
    # The list flags it too, and the metric and the log say so.
    [listed] = conversations(app)
    assert listed["followup"]["state"] == "failed"
    assert _metric("partnerline_followup_failures_total") - failures == 1
    assert any(
        "failed for good" in r.getMessage() and "mirror is down" in r.getMessage()
        for r in caplog.records
    )
    # So do the inbox's list and the conversation's page.
    add_login(app.container, "ana", "ana")
    with signed_in(app.url, "ana") as browser:
        assert "needs a person: follow-up failed" in browser.get("/inbox").text
        page = browser.get(f"/inbox/conversations/{conv['id']}").text
        assert "please answer it yourself" in page and "mirror is down" in page
    [timer] = _followup_timers(app)
    assert timer.state == "failed" and timer.attempts == app.container.settings.outbox_max_attempts
    assert twilio.sent_to(DANA) == []  # the acknowledgement rolled back with its follow-up

    # A staff answer deals with it: the flag goes.
    app.container.services.before_commit.clear()
    reply = app.api().post(f"/api/conversations/{conv['id']}/reply", json={"text": "On it."})
    assert reply.status_code == 202
    assert conversation(app, conv["id"])["followup"] is None


@pytest.fixture
def day_app(db_url: str, twilio: TwilioStandIn) -> Iterator[RunningApp]:
    # Backoff of seconds, as in production, so that the count of attempts shows it.
    with running_app(
        db_url,
        twilio.url,
        clock=OffsetClock(MONDAY_MORNING),
        PARTNERLINE_OUTBOX_BACKOFF=0.5,
        PARTNERLINE_OUTBOX_BACKOFF_CAP=5,
    ) as running:
        yield running


def test_one_poisoned_delivery_timer_and_outbox_row_hold_up_none_of_200_good_messages(
    day_app: RunningApp, twilio: TwilioStandIn
) -> None:
    app = day_app
    now = app.container.clock.now()
    services = app.container.services
    # A journalled delivery whose payload cannot be routed, a timer whose handler fails, and
    # an outbox row for a channel that is not configured, all due before the good traffic.
    with app.container.db.write_connection() as conn:
        write_batch(
            conn,
            [
                JournalEntry(
                    Channel.SMS,
                    "poison",
                    "message",
                    {"channel": "sms", "provider_id": "poison", "received_at": "not a time"},
                    now,
                )
            ],
        )
    with services.uow() as uow:
        uow.timers.schedule("poison", AT_RISK, now - timedelta(seconds=1), now, {})
        uow.outbox.enqueue(
            kind="notice",
            channel=Channel.TELEGRAM,
            recipient="1",
            payload={"text": "nowhere to go"},
            at=now,
        )
        uow.commit()

    numbers = [f"+1415555{i:04d}" for i in range(200)]  # no staff or client among them
    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: _post(app, f"SM{n[1:]:0>32}", "hello", sender=n), numbers))

    def all_committed() -> bool:
        with services.uow() as uow:
            started = uow.session.execute(select(func.count(CommitmentRow.id))).scalar_one()
        return started == 200

    eventually(all_committed, timeout=60)
    filed = time.monotonic() - started
    # Staff answer twenty of them: every reply goes out, beside the poisoned outbox row.
    convs = {c["contact"]["address"]: c["id"] for c in conversations(app, limit="500")}
    api = app.api()
    for number in numbers[:20]:
        reply = api.post(f"/api/conversations/{convs[number]}/reply", json={"text": "Yes"})
        assert reply.status_code == 202
    eventually(lambda: all(len(twilio.sent_to(n)) == 1 for n in numbers[:20]), timeout=30)
    print(
        f"200 messages filed with their commitments in {filed:.1f} s, 20 replies sent in "
        f"{time.monotonic() - started - filed:.1f} s, beside three poisoned items"
    )

    [journal] = _rows(app, InboundDeliveryRow, InboundDeliveryRow.delivery_key == "poison")
    [timer] = _rows(app, TimerRow, TimerRow.key == "poison")
    [outbox] = _rows(app, OutboxRow, OutboxRow.channel == "telegram")
    # Each poisoned item was tried, backed off (a handful of attempts, not hundreds) and, for
    # a client message, is still waiting to be tried again rather than dropped.
    assert journal.state == "pending" and 1 <= journal.attempts <= 15
    assert journal.next_attempt_at is not None and "KeyError" in (journal.last_error or "")
    assert 1 <= timer.attempts <= 15 and "KeyError" in (timer.last_error or "")
    assert outbox.state == "failed"
