"""Bad input is answered at the webhook, never met in the worker (routing.limits), the same on
SQLite and PostgreSQL: an id that cannot be stored is a 400 and nothing is kept; U+0000 and lone
surrogates in what a person wrote are cleaned away and the message is filed.

The app runs with all three channels, each provider played by its stand-in and signed as the
provider signs.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from adapters.standins.slack import SlackStandIn
from adapters.standins.telegram import TelegramStandIn
from adapters.standins.twilio import TwilioStandIn
from routing.clock import OffsetClock
from storage.tables import InboundDeliveryRow
from tests.e2e import test_slack_flow as slack_flow
from tests.e2e import test_telegram_flow as telegram_flow
from tests.e2e.conftest import MONDAY_MORNING
from tests.e2e.test_sms_flow import DANA, conversation, conversations, eventually
from tests.support.app import AUTH_TOKEN, RunningApp, running_app
from tests.support.twilio_signing import signed_form_post_headers

DANA_TG = telegram_flow.DANA
DANA_SLACK = slack_flow.DANA


@pytest.fixture
def app(
    db_url: str, twilio: TwilioStandIn, tg: TelegramStandIn, slack: SlackStandIn
) -> Iterator[RunningApp]:
    with running_app(
        db_url,
        twilio.url,
        clock=OffsetClock(MONDAY_MORNING),
        TELEGRAM_BOT_TOKEN=telegram_flow.TOKEN,
        TELEGRAM_WEBHOOK_SECRET=telegram_flow.SECRET,
        TELEGRAM_API_URL=tg.api_url,
        SLACK_BOT_TOKEN=slack_flow.TOKEN,
        SLACK_SIGNING_SECRET=slack_flow.SECRET,
        SLACK_API_URL=slack.api_url,
    ) as running:
        yield running


def journal(app: RunningApp) -> dict[str, str]:
    """Every journalled delivery's key and state."""
    with app.container.db.session() as session:
        rows = session.execute(select(InboundDeliveryRow.delivery_key, InboundDeliveryRow.state))
        return {key: state for key, state in rows}


def failed_deliveries(app: RunningApp) -> int:
    with app.container.db.session() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(InboundDeliveryRow)
                .where(InboundDeliveryRow.state == "failed")
            )
            or 0
        )


def texts_of(app: RunningApp, address: str) -> list[str]:
    convs = [c for c in conversations(app) if c["contact"]["address"] == address]
    return [m["text"] for c in convs for m in conversation(app, c["id"])["messages"]]


def filed(app: RunningApp, address: str, count: int = 1) -> list[str]:
    """The texts `address` has in the inbox, once `count` of them are there."""
    app.wait_routed()
    texts: list[str] = eventually(
        lambda: len(texts_of(app, address)) >= count and texts_of(app, address)
    )
    assert failed_deliveries(app) == 0
    return texts


# --- SMS -------------------------------------------------------------------------------------


def test_an_sms_with_nul_is_filed_without_it(app: RunningApp) -> None:
    form = app.sms_form("SM" + "a" * 32, DANA, "Call me\x00 back\x00")
    assert app.post_sms(form).status_code == 200
    assert filed(app, DANA) == ["Call me back"]


def test_an_sms_id_that_cannot_be_stored_is_a_400(app: RunningApp) -> None:
    for sid in ("SM" + "9" * 127, "SM" + "9" * 300, "SM12\x0034", "SM12\x7f34"):
        response = app.post_sms(app.sms_form(sid, DANA, "hello"))
        assert response.status_code == 400, sid
        assert "MessageSid" in response.json()["detail"]
    assert journal(app) == {} and conversations(app) == []


def test_a_status_callback_with_an_overlong_id_is_a_400(app: RunningApp) -> None:
    path = "/webhooks/twilio/status"
    params = {"MessageSid": "SM" + "1" * 200, "MessageStatus": "delivered"}
    headers, body = signed_form_post_headers(AUTH_TOKEN, app.public_url + path, params)
    response = httpx.post(app.url + path, content=body, headers=headers, timeout=10)
    assert response.status_code == 400


def test_a_voice_webhook_for_a_page_id_out_of_range_is_a_400(app: RunningApp) -> None:
    for page in ("1" * 70, "2147483648", "%C2%B2"):  # the last is "²", a digit to isdigit()
        path = f"/webhooks/twilio/voice?page={page}&staff=jim"
        headers, body = signed_form_post_headers(AUTH_TOKEN, app.public_url + path, {})
        response = httpx.post(app.url + path, content=body, headers=headers, timeout=10)
        assert response.status_code == 400, page


def test_four_bad_among_36_good_concurrent_webhooks_fail_alone(app: RunningApp) -> None:
    bad = {3: "SM" + "7" * 200, 11: "SM\x00" + "7" * 32, 22: "SM" + "8" * 129, 37: "SM\x1b77"}
    forms = [app.sms_form(bad.get(i, f"SM{i:032d}"), DANA, f"message {i}") for i in range(40)]
    with httpx.Client(timeout=20) as client, ThreadPoolExecutor(40) as pool:
        statuses = list(
            pool.map(lambda f: app.post_sms(f, client=client, wait=False).status_code, forms)
        )
    assert [i for i, s in enumerate(statuses) if s == 400] == sorted(bad)
    assert all(s == 200 for i, s in enumerate(statuses) if i not in bad)
    texts = filed(app, DANA, count=36)
    assert sorted(texts) == sorted(f"message {i}" for i in range(40) if i not in bad)
    assert set(journal(app)) == {f["MessageSid"] for i, f in enumerate(forms) if i not in bad}


# --- Telegram ----------------------------------------------------------------------------------


def test_a_telegram_message_with_nul_and_a_lone_surrogate_is_filed_cleaned(
    app: RunningApp, tg: TelegramStandIn
) -> None:
    update = tg.message_update(DANA_TG, "see\x00 you \ud800 soon")
    assert telegram_flow.deliver(tg, app, update) == 200
    assert filed(app, str(DANA_TG["id"])) == ["see you \ufffd soon"]


def _update_with(tg: TelegramStandIn, **changes: Any) -> dict[str, Any]:
    # A copy: the update holds DANA_TG itself, which other tests of this process still use.
    update = copy.deepcopy(tg.message_update(DANA_TG, "hello"))
    for path, value in changes.items():
        target = update
        *parents, last = path.split("__")
        for name in parents:
            target = target[name]
        target[last] = value
    return update


OUT_OF_RANGE = [
    {"message__from__id": 10**70},  # a user id of 71 digits
    {"message__chat__id": -(10**65)},
    {"message__message_id": 2**63},
    {"update_id": 10**30},
    {"message__date": 10**20},
    {"message__date": 10**12},  # fits 64 bits, but is no date (year 33658)
]


def test_a_telegram_number_out_of_range_is_a_400(app: RunningApp, tg: TelegramStandIn) -> None:
    for changes in OUT_OF_RANGE:
        assert telegram_flow.deliver(tg, app, _update_with(tg, **changes)) == 400, changes
    assert journal(app) == {}


# --- Slack -------------------------------------------------------------------------------------


def test_a_slack_message_with_nul_is_filed_without_it(app: RunningApp, slack: SlackStandIn) -> None:
    assert slack_flow.send_event(slack, app, slack.dm_event(DANA_SLACK, "ping\x00 me")) == 200
    assert filed(app, DANA_SLACK) == ["ping me"]


UNSTORABLE_SLACK_IDS: list[tuple[dict[str, str], str | None]] = [
    ({}, "Ev" + "1" * 200),  # event_id
    ({"channel": "D" + "X" * 100}, None),
    ({"user": "U0DANA\x00REYS"}, None),  # refused, not cleaned into another user's id
    ({"ts": "1" * 200}, None),
]


def test_a_slack_id_that_cannot_be_stored_is_a_400(app: RunningApp, slack: SlackStandIn) -> None:
    for changes, event_id in UNSTORABLE_SLACK_IDS:
        message = {**slack.dm_event(DANA_SLACK, "hello"), **changes}
        response = slack.deliver_event(app.url + slack_flow.PATH, message, event_id=event_id)
        assert response.status_code == 400, (changes, event_id, response.text)
    assert journal(app) == {}
