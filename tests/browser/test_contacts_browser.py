"""One person across channels, in a real browser: the contact on a conversation's page with
every channel they used, the merge screen (an SMS contact and a Telegram contact made through
the API and signed webhooks, merged from the page), a reply sent on another channel from the
composer's select reaching that channel's stand-in, and the file's contacts read-only.

The app runs with its worker on loopback, signed Twilio and Telegram webhooks against the
stand-ins; each test runs on SQLite and PostgreSQL (`db_url`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from adapters.standins.telegram import TelegramStandIn
from adapters.standins.twilio import TwilioStandIn
from routing.clock import OffsetClock
from tests.browser.inbox_support import add_login, csrf_from, signed_in
from tests.browser.test_inbox_browser import MONDAY_MORNING, send_sms, sign_in, wait_live
from tests.e2e.test_sms_flow import conversations, eventually
from tests.e2e.test_telegram_flow import TOKEN, deliver, telegram_app
from tests.support.app import RunningApp

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

MAYA_SMS = "+13135550177"
MAYA_TG = TelegramStandIn.user(300000077, "Maya", "Brooks")
DANA_SMS, DANA_TG = "+13135550142", 200000042  # Acme's contact in the file, on both


@pytest.fixture(scope="module")
def telegram_server() -> Iterator[TelegramStandIn]:
    with TelegramStandIn(TOKEN) as standin:
        yield standin


@pytest.fixture
def tg(telegram_server: TelegramStandIn) -> TelegramStandIn:
    telegram_server.reset()
    return telegram_server


@pytest.fixture
def web(db_url: str, twilio: TwilioStandIn, tg: TelegramStandIn) -> Iterator[RunningApp]:
    with telegram_app(db_url, twilio, tg, OffsetClock(MONDAY_MORNING)) as running:
        add_login(running.container, "ana", "ana")  # staff, not an admin
        yield running


def _new_contact(web: RunningApp, name: str, channel: str, address: str) -> int:
    body = {
        "client": "acme",
        "name": name,
        "identities": [{"channel": channel, "address": address}],
    }
    with web.api() as api:
        response = api.post("/api/contacts", json=body)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _contact(web: RunningApp, contact_id: int) -> httpx.Response:
    with web.api() as api:
        return api.get(f"/api/contacts/{contact_id}")


def _conversation_on(web: RunningApp, channel: str) -> dict[str, Any]:
    [conv] = [c for c in conversations(web) if c["channel"] == channel]
    return conv


def _two_mayas(web: RunningApp, tg: TelegramStandIn) -> tuple[int, int]:
    """Maya Brooks by SMS and "Maya B." on Telegram, each having written (Telegram last)."""
    on_sms = _new_contact(web, "Maya Brooks", "sms", MAYA_SMS)
    on_tg = _new_contact(web, "Maya B.", "telegram", "300000077")
    send_sms(web, MAYA_SMS, "By SMS: the launch date?")
    assert deliver(tg, web, tg.message_update(MAYA_TG, "On Telegram: photos soon")) == 200
    web.wait_routed()
    return on_sms, on_tg


def test_staff_merge_an_sms_and_a_telegram_contact_and_reply_on_the_other_channel(
    web: RunningApp, twilio: TwilioStandIn, tg: TelegramStandIn, page: Any
) -> None:
    into, gone = _two_mayas(web, tg)
    on_sms, on_tg = _conversation_on(web, "sms"), _conversation_on(web, "telegram")
    sign_in(page, web, "ana")
    page.goto(f"{web.url}/inbox/conversations/{on_tg['id']}")
    card = page.locator("#contact-card")
    assert "Maya B." in card.inner_text() and MAYA_SMS not in card.inner_text()
    assert page.get_by_label("Reply channel").count() == 0  # one channel: no choice to make

    page.get_by_role("link", name="Merge with another contact…").click()
    page.get_by_label("Merge into").select_option(str(into))
    page.get_by_role("button", name="Continue").click()
    assert "Merge Maya B. (Acme Robotics) into Maya Brooks" in page.locator("main").inner_text()
    page.get_by_role("button", name="Merge", exact=True).click()

    # Back on the Telegram conversation, now the one person's: both channels, both histories.
    page.wait_for_url(f"**/inbox/conversations/{on_tg['id']}")
    wait_live(page)
    page.locator("#conv-head h1", has_text="Maya Brooks").wait_for()
    text = card.inner_text()
    assert MAYA_SMS in text and "300000077" in text and "from the file" not in text
    assert card.get_by_role("link", name=f"SMS conversation #{on_sms['id']}").count() == 1
    assert _contact(web, gone).status_code == 404

    # They last wrote on Telegram, so the composer offers Telegram first; staff pick SMS.
    channel = page.get_by_label("Reply channel")
    assert channel.input_value() == "telegram"
    channel.select_option("sms")
    page.get_by_label("Reply to Maya Brooks on SMS").fill("Launch is on the 14th, Maya.")
    page.get_by_role("button", name="Send reply").click()
    notice = page.locator("#flash .notice", has_text="Sent on SMS")
    notice.wait_for()
    assert page.locator("#reply-text").input_value() == ""
    sent = eventually(lambda: [m for m in twilio.sent_to(MAYA_SMS) if "14th" in m["body"]])
    assert len(sent) == 1
    assert not [m for m in tg.sent_to(300000077) if "14th" in m.get("text", "")]
    # The SMS history is a click away, with the reply in it.
    notice.get_by_role("link").click()
    page.wait_for_url(f"**/inbox/conversations/{on_sms['id']}")
    page.locator("#timeline .msg.dir-in", has_text="the launch date?").wait_for()
    page.locator("#timeline .msg.dir-out", has_text="Launch is on the 14th").wait_for()


def test_a_refused_merge_shows_why_and_changes_nothing(
    web: RunningApp, tg: TelegramStandIn, page: Any
) -> None:
    into, gone = _two_mayas(web, tg)
    on_tg = _conversation_on(web, "telegram")
    before = _contact(web, gone).json()
    sign_in(page, web, "ana")
    # The list never offers the contact itself; asked anyway, the use case says no.
    page.goto(f"{web.url}/inbox/contacts/{gone}/merge?conversation={on_tg['id']}&into={gone}")
    page.get_by_role("button", name="Merge", exact=True).click()
    page.locator("#flash .error", has_text="cannot merge into itself").wait_for()
    assert _contact(web, gone).json() == before
    assert _contact(web, into).json()["identities"][0]["address"] == MAYA_SMS


def test_a_contact_from_the_file_is_marked_and_replied_to_on_telegram_from_the_select(
    web: RunningApp, tg: TelegramStandIn, page: Any
) -> None:
    send_sms(web, DANA_SMS, "Our dashboard is blank again.")
    conv = _conversation_on(web, "sms")
    dana = conv["contact"]["id"]
    sign_in(page, web, "ana")
    page.goto(f"{web.url}/inbox/conversations/{conv['id']}")
    wait_live(page)
    card = page.locator("#contact-card")
    assert "from the file" in card.locator(".badge").inner_text()
    assert "configuration file" in card.inner_text()
    assert page.get_by_role("link", name="Merge with another contact…").count() == 0
    # Her file lists SMS, Telegram and Slack; she never wrote on Slack, so no Slack reply.
    channel = page.get_by_label("Reply channel")
    assert channel.input_value() == "sms"
    assert channel.locator("option").all_inner_texts() == ["SMS", "Telegram"]
    channel.select_option("telegram")
    page.get_by_label("Reply to Dana Reyes on Telegram").fill("Looking at it now, Dana.")
    page.get_by_role("button", name="Send reply").click()
    page.locator("#flash .notice", has_text="Sent on Telegram").wait_for()
    sent = eventually(lambda: [m for m in tg.sent_to(DANA_TG) if "Looking at it" in m["text"]])
    assert len(sent) == 1

    # No merge screen for her either: posted anyway, the file's rule answers, nothing moves.
    other = _new_contact(web, "Dana R.", "sms", "+13135550179")
    with signed_in(web.url, "ana") as staff:
        token = csrf_from(staff.get(f"/inbox/contacts/{dana}/merge").text)
        response = staff.post(
            f"/inbox/contacts/{dana}/merge", data={"into": str(other), "csrf_token": token}
        )
    assert response.status_code == 409
    assert "comes from the configuration file" in response.text
    assert _contact(web, dana).status_code == 200 and _contact(web, other).status_code == 200
