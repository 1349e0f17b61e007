"""Outbound end to end: long replies arrive whole and in order, replies queued through an
outage arrive in the order staff wrote them, and a send whose recording the database refuses
is not sent again.

The app on loopback with its worker, SQLite and PostgreSQL, the real `twilio` client and
python-telegram-bot against the stand-ins.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from adapters.standins.telegram import TelegramStandIn
from adapters.standins.twilio import TwilioStandIn
from bot.bootstrap import build_container, build_worker, sync_config
from bot.config import load_config
from bot.usecases.services import ADMIN
from routing.clock import FrozenClock, OffsetClock
from routing.messages import Channel, InboundMessage
from storage.tables import OutboxRow
from tests.e2e.conftest import MONDAY_MORNING, TELEGRAM_TOKEN
from tests.e2e.test_sms_flow import conversation, conversations, eventually
from tests.support.app import EXAMPLE_CONFIG, RunningApp, app_settings, running_app

DANA = "+13135550142"
TG_TOKEN = TELEGRAM_TOKEN  # the stand-in of tests/e2e/conftest.py
TG_SECRET = "test-telegram-secret"
TG_DANA = TelegramStandIn.user(200000042, "Dana", "Reyes")


@pytest.fixture
def app(db_url: str, twilio: TwilioStandIn) -> Iterator[RunningApp]:
    # Patient retries, so that an outage of a few seconds outlasts no reply's attempts.
    with running_app(
        db_url,
        twilio.url,
        clock=OffsetClock(MONDAY_MORNING),
        PARTNERLINE_OUTBOX_MAX_ATTEMPTS=60,
        PARTNERLINE_OUTBOX_BACKOFF=0.05,
        PARTNERLINE_OUTBOX_BACKOFF_CAP=0.2,
    ) as running:
        yield running


def open_conversation(app: RunningApp) -> int:
    app.post_sms(app.sms_form("SM" + "o" * 32, DANA, "Where are we?"))
    [conv] = conversations(app)
    return int(conv["id"])


def reply(app: RunningApp, conv_id: int, body: str) -> Any:
    with app.api() as api:
        return api.post(f"/api/conversations/{conv_id}/reply", json={"text": body})


def bodies(twilio: TwilioStandIn) -> list[str]:
    return [m["body"] for m in twilio.sent_to(DANA)]


def test_replies_queued_through_an_outage_reach_the_client_in_order(
    app: RunningApp, twilio: TwilioStandIn
) -> None:
    conv_id = open_conversation(app)
    twilio.fail_always(500, 20500, "Internal Server Error")
    for n in range(5):
        assert reply(app, conv_id, f"reply {n}").status_code == 202
    tried = eventually(lambda: len(twilio.requests) >= 8 and twilio.requests.all(), timeout=15)
    # Only the first is tried while Twilio fails: the others wait behind it.
    assert {r.field("Body") for r in tried} == {"reply 0"}
    twilio.recover()
    eventually(lambda: len(bodies(twilio)) == 5, timeout=15)
    assert bodies(twilio) == [f"reply {n}" for n in range(5)]

    def deliveries() -> list[str]:
        messages = conversation(app, conv_id)["messages"]
        return [m["delivery"] for m in messages if m["direction"] == "out"]

    # Twilio holds the last one a moment before the worker has recorded it as sent.
    eventually(lambda: deliveries() == ["sent"] * 5)


def test_after_a_permanent_refusal_the_next_reply_goes(
    app: RunningApp, twilio: TwilioStandIn
) -> None:
    conv_id = open_conversation(app)
    twilio.fail_next(1, 400, 21408, "Permission to send an SMS has not been enabled")
    assert reply(app, conv_id, "refused").status_code == 202
    assert reply(app, conv_id, "the next one").status_code == 202
    eventually(lambda: bodies(twilio) == ["the next one"])

    def outgoing() -> list[dict[str, Any]]:
        return [m for m in conversation(app, conv_id)["messages"] if m["direction"] == "out"]

    # Twilio answered before the worker recorded it: wait for the record, not the send.
    [first, _] = eventually(lambda: outgoing()[1]["delivery"] == "sent" and outgoing())
    assert first["delivery"] == "failed" and "21408" in first["error"]


def long_text(paragraphs: int, words: int) -> str:
    return "\n\n".join(
        f"Paragraph {p}: " + " ".join(f"w{p}.{i}" for i in range(words)) for p in range(paragraphs)
    )


def test_a_long_sms_reply_arrives_whole_in_parts_linked_to_the_message(
    app: RunningApp, twilio: TwilioStandIn
) -> None:
    conv_id = open_conversation(app)
    body = long_text(4, 150)  # 3,814 characters in four paragraphs; SMS take 1,600
    response = reply(app, conv_id, body)
    assert response.status_code == 202, response.text
    queued = response.json()
    assert queued["delivery"] == "queued"
    assert [p["delivery"] for p in queued["parts"]] == ["queued"] * 4
    eventually(lambda: len(bodies(twilio)) == 4)
    parts = bodies(twilio)
    assert parts == body.split("\n\n")  # cut at its paragraph breaks, whole, in order

    def message() -> dict[str, Any]:
        [out] = [m for m in conversation(app, conv_id)["messages"] if m["direction"] == "out"]
        return out

    sids = [m["sid"] for m in twilio.sent_to(DANA)]
    msg = eventually(lambda: message()["delivery"] == "sent" and message())
    assert msg["text"] == body  # the message is one, as staff wrote it
    assert [p["provider_id"] for p in msg["parts"]] == sids
    for sid in reversed(sids):  # delivered once every part is
        assert message()["delivery"] == "sent"
        assert twilio.deliver_status(sid, "delivered") == 204
    assert message()["delivery"] == "delivered"
    assert [p["delivery"] for p in message()["parts"]] == ["delivered"] * 4


def test_the_reply_api_names_its_limit(app: RunningApp, twilio: TwilioStandIn) -> None:
    conv_id = open_conversation(app)
    too_long = reply(app, conv_id, "x" * 10_001)
    assert too_long.status_code == 422
    assert too_long.json() == {
        "detail": [
            {
                "loc": ["body", "text"],
                "msg": "text is 10,001 characters; the limit is 10,000 characters",
                "type": "text_too_long",
            }
        ]
    }
    blank = reply(app, conv_id, "   ")
    assert blank.status_code == 422 and blank.json()["detail"][0]["type"] == "text_empty"
    longest = reply(app, conv_id, "y" * 10_000)  # one unbroken word: cut where it must be
    assert longest.status_code == 202
    assert len(longest.json()["parts"]) == 7
    eventually(lambda: len(bodies(twilio)) == 7)
    assert "".join(bodies(twilio)) == "y" * 10_000


# --- a send the database would not record -------------------------------------------------


REFUSE = {
    "sqlite": [
        "CREATE TRIGGER refuse_sent BEFORE UPDATE ON outbox WHEN NEW.state = 'sent' "
        "BEGIN SELECT RAISE(ABORT, 'the test refuses to record sends'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION refuse_sent() RETURNS trigger AS $$ BEGIN "
        "RAISE EXCEPTION 'the test refuses to record sends'; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER refuse_sent BEFORE UPDATE ON outbox FOR EACH ROW "
        "WHEN (NEW.state = 'sent') EXECUTE FUNCTION refuse_sent()",
    ],
}
ALLOW = {
    "sqlite": ["DROP TRIGGER refuse_sent"],
    "postgresql": ["DROP TRIGGER refuse_sent ON outbox", "DROP FUNCTION refuse_sent()"],
}


def run_sql(app: RunningApp, statements: dict[str, list[str]]) -> None:
    engine = app.container.db.engine
    with app.container.db.write_connection() as conn:
        for statement in statements[engine.dialect.name]:
            conn.execute(text(statement))


def test_a_telegram_reply_whose_recording_fails_is_not_sent_twice(
    db_url: str, twilio: TwilioStandIn, telegram_server: TelegramStandIn
) -> None:
    """Telegram cannot say what it already took: the worker keeps trying to record the send,
    renewing its lease, rather than let the lease run out and send it again."""
    tg = telegram_server
    tg.reset()
    with running_app(
        db_url,
        twilio.url,
        clock=OffsetClock(MONDAY_MORNING),
        TELEGRAM_BOT_TOKEN=TG_TOKEN,
        TELEGRAM_WEBHOOK_SECRET=TG_SECRET,
        TELEGRAM_API_URL=tg.api_url,
        PARTNERLINE_OUTBOX_LEASE=1,
    ) as app:
        update = tg.message_update(TG_DANA, "Any news?")
        assert tg.deliver(update, app.url + "/webhooks/telegram", secret=TG_SECRET).is_success
        [conv] = eventually(lambda: conversations(app))
        run_sql(app, REFUSE)
        try:
            assert reply(app, conv["id"], "Yes: shipped today.").status_code == 202
            eventually(lambda: tg.sent_to(TG_DANA["id"]))
            # For three leases the database refuses to record that it went: time must pass.
            time.sleep(3.0)
        finally:
            run_sql(app, ALLOW)

        def state() -> str:
            with app.container.db.session() as s:
                return str(
                    s.execute(select(OutboxRow.state).where(OutboxRow.kind == "reply")).scalar()
                )

        eventually(lambda: state() == "sent")
        assert [m["text"] for m in tg.sent_to(TG_DANA["id"])] == ["Yes: shipped today."]
        [out] = [m for m in conversation(app, conv["id"])["messages"] if m["direction"] == "out"]
        assert out["delivery"] == "sent" and out["parts"][0]["provider_id"]


# --- a send whose outcome a crash left unknown ---------------------------------------------


def test_a_reply_the_provider_never_took_is_not_mistaken_for_an_identical_earlier_one(
    db_url: str, twilio: TwilioStandIn
) -> None:
    """Twilio is asked before a row a dead worker left is sent again; its record of the same
    text sent earlier (the same reply twice) is another row's, not this one's."""
    # A Thursday morning in business hours (no acknowledgement), before Twilio's clock.
    clock = FrozenClock(datetime(2026, 12, 3, 15, 0, tzinfo=UTC))
    assert clock.now() < datetime.now(UTC)
    container = build_container(
        app_settings(db_url, twilio.url, "http://localhost:9"),
        load_config(EXAMPLE_CONFIG),
        clock=clock,
    )
    sync_config(container)
    ingested = container.services.receive(
        InboundMessage(Channel.SMS, "SM" + "u" * 32, DANA, "ok?", clock.now())
    )
    assert ingested.conversation is not None
    for _ in range(2):
        container.services.reply(ingested.conversation.id, "OK", ADMIN)

    async def story() -> None:
        worker = build_worker(container)
        assert await worker.drain_outbox() == 1  # the first; the second waits behind it
        # The second is claimed by a worker that dies before it reaches Twilio.
        with container.services.uow() as uow:
            [claimed] = uow.outbox.claim(clock.now(), timedelta(0), 10)
            uow.commit()
        assert claimed.payload["text"] == "OK"
        assert await worker.drain_outbox() == 1  # taken again, uncertain: Twilio is asked

    asyncio.run(story())
    assert bodies(twilio) == ["OK", "OK"]
    container.db.dispose()
