"""The inbox's filters, order and search, read as HTML over HTTP (no browser needed)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest

from adapters.standins.twilio import TwilioStandIn
from routing.clock import OffsetClock
from tests.browser.inbox_support import add_login, csrf_from, inbox_app, signed_in
from tests.e2e.test_sms_flow import eventually
from tests.support.app import RunningApp

MONDAY_MORNING = datetime(2026, 12, 7, 10, 0, tzinfo=ZoneInfo("America/Detroit"))
DANA, LUCY, GEORGE, STRANGER = "+13135550142", "+13135550150", "+447700900123", "+13135559999"


@pytest.fixture
def web(db_url: str, twilio: TwilioStandIn) -> Iterator[RunningApp]:
    with inbox_app(db_url, twilio.url, clock=OffsetClock(MONDAY_MORNING)) as running:
        add_login(running.container, "ana", "ana")
        yield running


def listed(client: httpx.Client, query: str = "") -> list[str]:
    """The contact names of the inbox rows, in order."""
    html = client.get("/inbox/rows?" + query).text
    return re.findall(r'<span class="contact">([^<]*)</span>', html)


def test_filters_order_and_search(web: RunningApp) -> None:
    for n, (sender, text) in enumerate(
        [
            (LUCY, "Standard promise: four hours"),
            (DANA, "Priority promise: thirty minutes, needle-in-haystack"),
            (GEORGE, "Priority too"),
            (STRANGER, "Who am I?"),
        ]
    ):
        assert web.post_sms(web.sms_form(f"SM{n:032d}", sender, text)).status_code == 200
    with web.api() as api:
        eventually(lambda: len(api.get("/api/conversations").json()["items"]) == 4)
        ids = {
            c["contact"]["address"]: c["id"] for c in api.get("/api/conversations").json()["items"]
        }
    with signed_in(web.url, "ana") as browser:
        # Soonest due first: the two priority clients, then the standard ones.
        order = listed(browser)
        assert order[:2] == ["Dana Reyes", "George Hill"] and set(order[2:]) == {
            "Lucy Chen",
            STRANGER,
        }
        token = csrf_from(browser.get(f"/inbox/conversations/{ids[LUCY]}").text)
        post = {"csrf_token": token}
        assert browser.post(
            f"/inbox/conversations/{ids[LUCY]}/assign", data={**post, "staff": "ana"}
        ).is_redirect
        assert browser.post(f"/inbox/conversations/{ids[GEORGE]}/close", data=post).is_redirect
        assert listed(browser, "view=mine") == ["Lucy Chen"]
        assert listed(browser, "view=unassigned") == ["Dana Reyes", STRANGER]
        assert listed(browser, "view=closed") == ["George Hill"]
        assert "George Hill" not in listed(browser)
        assert listed(browser, "client=acme") == ["Dana Reyes"]
        assert listed(browser, "client=-") == [STRANGER]
        assert listed(browser, "channel=telegram") == []
        assert listed(browser, "view=all&q=haystack") == ["Dana Reyes"]  # message text
        assert listed(browser, "view=all&q=brightside") == ["Lucy Chen"]  # client name
        assert listed(browser, "view=all&q=hill") == ["George Hill"]  # contact name
        assert listed(browser, "view=all&q=100%25") == []  # a % is a character, not a wildcard
        assert browser.post(f"/inbox/conversations/{ids[GEORGE]}/reopen", data=post).is_redirect
        assert "George Hill" in listed(browser)
        page = browser.get(f"/inbox/conversations/{ids[DANA]}")
        assert "Promise started (priority)" in page.text and "needle-in-haystack" in page.text
        assert browser.get("/inbox/conversations/999999").status_code == 404


def test_a_fresh_sandbox_gets_one_admin_login(db_url: str) -> None:
    from bot.http.web.sandbox import ensure_sandbox_login
    from tests.browser.inbox_support import sandbox_app

    with sandbox_app(db_url) as (web, _):
        created = ensure_sandbox_login(web.container)
        assert created is not None and created[0] == "sandbox"
        assert ensure_sandbox_login(web.container) is None  # only on a database with none
        with signed_in(web.url, "sandbox", created[1]) as browser:
            page = browser.get("/sandbox")
            assert page.status_code == 200 and "Dana Reyes (Acme Robotics) on sms" in page.text


def test_the_sandbox_plays_a_telegram_contact(db_url: str) -> None:
    from tests.browser.inbox_support import sandbox_app

    with sandbox_app(db_url, clock=OffsetClock(MONDAY_MORNING)) as (web, sandbox):
        persona = sandbox.persona("telegram:200000042")
        assert persona is not None and persona.name == "Dana Reyes"
        assert sandbox.send(persona, "Hello over Telegram") == 200
        with web.api() as api:
            items = eventually(
                lambda: api.get("/api/conversations?channel=telegram").json()["items"]
            )
            conv = items[0]["id"]
            assert (
                api.post(
                    f"/api/conversations/{conv}/reply", json={"text": "Hi Dana, on Telegram"}
                ).status_code
                == 202
            )
        thread = eventually(lambda: [i for i in sandbox.thread(persona) if not i["mine"]])
        assert [i["text"] for i in thread] == ["Hi Dana, on Telegram"]


def test_the_sandbox_plays_a_slack_contact(db_url: str) -> None:
    from tests.browser.inbox_support import sandbox_app

    with sandbox_app(db_url, clock=OffsetClock(MONDAY_MORNING)) as (web, sandbox):
        persona = sandbox.persona("slack:U0DANAREYS")
        assert persona is not None and persona.name == "Dana Reyes"
        assert sandbox.send(persona, "Hello over Slack") == 200
        with web.api() as api:
            items = eventually(lambda: api.get("/api/conversations?channel=slack").json()["items"])
            reply = api.post(
                f"/api/conversations/{items[0]['id']}/reply", json={"text": "Hi Dana, on Slack"}
            )
            assert reply.status_code == 202
        thread = eventually(lambda: [i for i in sandbox.thread(persona) if not i["mine"]])
        assert [i["text"] for i in thread] == ["Hi Dana, on Slack"]


def test_a_message_filed_before_the_pages_stream_opens_is_still_signalled(
    web: RunningApp,
) -> None:
    with signed_in(web.url, "ana") as browser:
        page = browser.get("/inbox").text
        [events] = re.findall(r'data-events="([^"]+)"', page)
        assert "since=" in events
        # Between the page's render and its stream's first poll, a client writes.
        assert (
            web.post_sms(web.sms_form("SM" + "r" * 32, "+13135550142", "Race")).status_code == 200
        )
        web.wait_routed()
        heard = []
        with browser.stream("GET", events.replace("&amp;", "&"), timeout=10) as stream:
            for line in stream.iter_lines():
                if line.startswith("event: "):
                    heard.append(line.removeprefix("event: "))
                if "changed" in heard or len(heard) > 3:
                    break
    assert heard[:2] == ["ready", "changed"]
