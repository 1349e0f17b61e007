"""Triage in a real browser: on an unknown sender's conversation, a staff member links it to
a client from the page, and the page shows it as that client's at once; and an address added
to an existing contact. The form is gone once the conversation is a client's."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from adapters.standins.twilio import TwilioStandIn
from routing.clock import OffsetClock
from tests.browser.inbox_support import add_login, inbox_app
from tests.browser.test_inbox_browser import (
    MONDAY_MORNING,
    send_sms,
    sign_in,
    wait_live,
)
from tests.e2e.test_sms_flow import conversations, eventually
from tests.support.app import RunningApp

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

NEWCOMER = "+13135550177"


@pytest.fixture
def web(db_url: str, twilio: TwilioStandIn) -> Iterator[RunningApp]:
    with inbox_app(db_url, twilio.url, clock=OffsetClock(MONDAY_MORNING)) as running:
        add_login(running.container, "ana", "ana")  # staff, not an admin
        yield running


def _unknown(web: RunningApp, sender: str, body: str) -> dict[str, Any]:
    send_sms(web, sender, body)
    [conv] = [c for c in conversations(web) if c["contact"]["address"] == sender]
    assert conv["client"]["id"] is None
    return conv


def test_staff_link_an_unknown_sender_to_a_client_from_the_conversation_page(
    web: RunningApp, page: Any
) -> None:
    conv = _unknown(web, NEWCOMER, "Hi, I'm Acme's new marketing lead")
    sign_in(page, web, "ana")
    page.goto(f"{web.url}/inbox/conversations/{conv['id']}")
    wait_live(page)
    head = page.locator("#conv-head")
    assert "Unknown senders" in head.inner_text()
    page.get_by_label("Link to client").select_option("acme")
    page.get_by_label("as", exact=True).fill("Maya Brooks")
    page.get_by_role("button", name="Link", exact=True).click()
    # The head and the timeline show it without a reload.
    page.locator("#conv-head h1", has_text="Maya Brooks").wait_for()
    assert "Acme Robotics" in head.inner_text()
    assert page.get_by_label("Link to client").count() == 0
    page.get_by_text("Linked to a client by Ana Ortiz").wait_for()
    linked = eventually(
        lambda: next(c for c in conversations(web) if c["id"] == conv["id"])["client"]["id"]
    )
    assert linked == "acme"


def test_staff_add_an_unknown_senders_address_to_an_existing_contact(
    web: RunningApp, page: Any
) -> None:
    with web.api() as api:
        maya = api.post(
            "/api/contacts",
            json={
                "client": "acme",
                "name": "Maya Brooks",
                "identities": [{"channel": "sms", "address": NEWCOMER}],
            },
        ).json()
    conv = _unknown(web, "+13135550178", "Maya here, from my other phone")
    sign_in(page, web, "ana")
    page.goto(f"{web.url}/inbox/conversations/{conv['id']}")
    wait_live(page)
    page.get_by_label("or add this address to").select_option(str(maya["id"]))
    page.get_by_role("button", name="Add", exact=True).click()
    page.locator("#conv-head h1", has_text="Maya Brooks").wait_for()
    assert "Acme Robotics" in page.locator("#conv-head").inner_text()
    with web.api() as api:
        identities = api.get(f"/api/contacts/{maya['id']}").json()["identities"]
    assert [i["address"] for i in identities] == [NEWCOMER, "+13135550178"]
