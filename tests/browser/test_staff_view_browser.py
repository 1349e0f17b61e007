"""What staff read after hours, in a real browser: the inbox list previews what the client
wrote (not the bot's acknowledgement), the On call page says what each open page is about in
words, the timeline says whom a page notified in a sentence, a one-person rotation's "Next" does
not repeat the person; /docs renders with no network; the sandbox plays a client with the
client's own message first, switches whom it plays on choosing, and says who is signed in.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from adapters.standins.twilio import TwilioStandIn
from bot.http.web.sandbox import ensure_sandbox_login
from routing.clock import OffsetClock
from tests.browser.inbox_support import add_login, inbox_app, sandbox_app
from tests.browser.test_inbox_browser import DANA, save, send_sms, sign_in, wait_live
from tests.e2e.test_sms_flow import eventually
from tests.support.app import RunningApp

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

# Monday evening in Detroit: after hours, Raj's week on the after-hours rotation.
MONDAY_NIGHT = datetime(2026, 12, 7, 20, 0, tzinfo=ZoneInfo("America/Detroit"))


@pytest.fixture
def web(db_url: str, twilio: TwilioStandIn) -> Iterator[RunningApp]:
    with inbox_app(db_url, twilio.url, clock=OffsetClock(MONDAY_NIGHT)) as running:
        add_login(running.container, "jim", "jim", admin=True)
        yield running


def test_after_hours_staff_read_the_clients_words(
    web: RunningApp, twilio: TwilioStandIn, context: Any, tmp_path: Path
) -> None:
    page = context.new_page()
    sign_in(page, web)
    wait_live(page)
    words = "The robot arm stopped mid-shift and the line is down. Please call me back."
    send_sms(web, DANA, words)
    acknowledgement = eventually(lambda: twilio.sent_to(DANA))[0]["body"]
    assert acknowledgement.startswith("Thanks Dana")  # the bot answered after hours
    # The row's headline is what Dana wrote, not the acknowledgement sent after it.
    row = page.locator("#rows li.row", has_text="Dana Reyes")
    row.locator(".last", has_text="robot arm stopped").wait_for()
    assert "Thanks" not in row.inner_text() and "Auto:" not in row.inner_text()
    save(page, "inbox-after-hours.png", tmp_path)

    # On call: the open page in words, its due time a <time>; no JSON.
    page.get_by_role("link", name="On call").click()
    page.wait_for_url("**/inbox/oncall")
    open_page = page.locator("ul.pages li", has_text="Page #")
    open_page.wait_for()
    about = open_page.locator(".page-about").inner_text()
    assert about.startswith("Dana Reyes (Acme Robotics) wrote on SMS:")
    assert "robot arm stopped" in about
    due = open_page.locator(".page-due time")
    assert open_page.locator(".page-due").inner_text().startswith("Reply due ")
    assert due.get_attribute("datetime")
    assert not re.search(r'[{}]|"due_at"|"client"', open_page.inner_text())
    # A one-person rotation has no one else next; a rotation of three names the next one.
    leadership = page.locator("table.oncall tr", has=page.locator("th", has_text="leadership"))
    assert leadership.locator("td").nth(0).inner_text() == "Kim Lee"
    assert leadership.locator("td").nth(2).inner_text() == "no one else"
    after_hours = page.locator("table.oncall tr", has=page.locator("th", has_text="after-hours"))
    assert after_hours.locator("td").nth(0).inner_text() == "Raj Patel"
    assert after_hours.locator("td").nth(2).inner_text() == "Jim Miller"
    # The example agency's escalation reaches someone at every hour of the next 90 days.
    page.get_by_role("heading", name="Coverage gaps (next 90 days)").wait_for()
    assert page.locator("ul.gaps li").all_inner_texts() == ["No gaps in the next 90 days."]
    save(page, "oncall-after-hours.png", tmp_path)

    # The conversation: whom the page notified, as a sentence.
    open_page.get_by_role("link").click()
    page.wait_for_url("**/inbox/conversations/*")
    wait_live(page)
    line = page.locator("#timeline li.page", has_text="notified Raj Patel by SMS")
    line.wait_for()  # the worker sends the first step's notification
    text = re.sub(r"\s+", " ", line.inner_text()).strip()
    assert re.search(r"Page #\d+ opened: notified Raj Patel by SMS$", text), text
    save(page, "conversation-after-hours.png", tmp_path)

    # On a phone: the same conversation and the list, one column, nothing cut off.
    page.set_viewport_size({"width": 375, "height": 812})
    page.locator("#timeline li.page", has_text="notified Raj Patel").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    save(page, "conversation-phone.png", tmp_path)
    page.get_by_role("link", name="Inbox").first.click()
    page.wait_for_url("**/inbox")
    page.locator("#rows li.row", has_text="Dana Reyes").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    save(page, "inbox-phone.png", tmp_path)


def test_the_api_docs_render_with_no_network(web: RunningApp, context: Any) -> None:
    elsewhere: list[str] = []
    problems: list[str] = []

    def only_loopback(route: Any) -> None:
        if route.request.url.startswith(web.url + "/"):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    context.route("**/*", only_loopback)
    page = context.new_page()
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(web.url + "/docs")
    # Swagger UI's 1.8 MB bundle takes seconds to parse on a busy 2-core machine.
    page.locator(".swagger-ui .info .title", has_text="Partnerline").wait_for(timeout=30_000)
    page.locator(".opblock-summary-path", has_text="/api/conversations").first.wait_for()
    page.get_by_role("button", name=re.compile("Authorize")).first.click()
    dialog = page.locator(".modal-ux")
    dialog.wait_for()
    for scheme in ("AdminToken", "InboxSession", "CsrfHeader"):
        assert scheme in dialog.inner_text()
    assert elsewhere == []  # nothing was fetched from anywhere but this server
    assert problems == []  # no script error, no CSP refusal


def test_the_sandbox_shows_the_clients_message_first_and_switches_on_choice(
    db_url: str, context: Any, tmp_path: Path
) -> None:
    with sandbox_app(db_url, clock=OffsetClock(MONDAY_NIGHT)) as (web, _):
        created = ensure_sandbox_login(web.container)
        assert created is not None
        client = context.new_page()
        client.goto(web.url + "/sandbox")
        client.get_by_label("Login").fill(created[0])
        client.get_by_label("Password").fill(created[1])
        client.get_by_role("button", name="Sign in").click()
        client.goto(web.url + "/sandbox")
        # Who is signed in, honestly: the sandbox's login, acting as the first staff member.
        who = client.locator("header .who").inner_text()
        assert who.startswith("Jim Miller (admin, sandbox login)"), who
        assert client.get_by_role("button", name="Switch").is_hidden()  # choosing is enough
        for key, name in (("slack:U0DANAREYS", "slack"), ("sms:" + DANA, "sms")):
            client.get_by_label("Play").select_option(key)
            client.wait_for_url(re.compile(r"/sandbox\?who=" + re.escape(name)))
            client.get_by_label(f"Message from Dana Reyes on {name}").fill(f"Hello on {name}")
            client.get_by_role("button", name="Send as Dana Reyes").click()
            thread = client.locator("#sandbox-thread .msg")
            thread.locator(".text", has_text="Thanks Dana").wait_for()
            assert "dir-in" in (thread.nth(0).get_attribute("class") or "")
            assert thread.nth(0).locator(".text").inner_text() == f"Hello on {name}"
            assert thread.nth(1).locator(".text").inner_text().startswith("Thanks Dana")
        save(client, "sandbox.png", tmp_path)
        client.close()  # its live stream would hold the app's shutdown


def test_the_sandbox_plays_an_unknown_sender_and_the_paged_persons_phone(
    db_url: str, context: Any, tmp_path: Path
) -> None:
    with sandbox_app(db_url, clock=OffsetClock(MONDAY_NIGHT)) as (web, sandbox):
        add_login(web.container, "jim", "jim", admin=True)
        page = context.new_page()
        sign_in(page, web)
        page.goto(web.url + "/sandbox")
        play = page.get_by_label("Play")

        # A number no configuration knows: its message lands in the inbox, under no client.
        play.select_option("sms:+13135550177")
        page.wait_for_url(re.compile(r"who=sms%3A%2B13135550177|who=sms:\+13135550177"))
        page.get_by_label("Message from Unknown sender on sms").fill("Who handles invoices?")
        page.get_by_role("button", name="Send as Unknown sender").click()
        page.locator("#sandbox-thread .msg.dir-in", has_text="Who handles invoices?").wait_for()
        with web.api() as api:
            unknown = eventually(
                lambda: [
                    c
                    for c in api.get("/api/conversations").json()["items"]
                    if c["contact"]["address"] == "+13135550177"
                ]
            )
        assert unknown[0]["client"]["id"] is None

        # Dana writes after hours: Raj, on call, is paged by SMS, and his phone shows it.
        play.select_option("sms:" + DANA)
        page.wait_for_url(re.compile(r"who=sms"))
        page.get_by_label("Message from Dana Reyes on sms").fill("The line is down!")
        page.get_by_role("button", name="Send as Dana Reyes").click()
        page.locator("#sandbox-thread .msg.dir-in", has_text="The line is down!").wait_for()
        page.get_by_label("Play").select_option("sms:+13135550103")
        page.wait_for_url(re.compile(r"13135550103"))
        paged = page.locator("#sandbox-thread .msg.dir-out", has_text="The line is down!")
        paged.wait_for()
        assert re.search(r"Page \d+: Dana Reyes \(Acme Robotics\) wrote on sms", paged.inner_text())
        assert "Reply ACK" in paged.inner_text()
        assert sandbox.twilio.sent_to("+13135550103")[0]["body"] in paged.inner_text()
        # Answering from that phone acknowledges the page, and the phone is told so.
        page.get_by_label("Message from Raj Patel on sms").fill("ACK")
        page.get_by_role("button", name="Send as Raj Patel").click()
        page.locator("#sandbox-thread .msg.dir-out", has_text="Acknowledged page").wait_for()
        with web.api() as api:
            states = [p["state"] for p in api.get("/api/pages").json()["items"]]
        assert states == ["acknowledged"]
        save(page, "sandbox-staff-phone.png", tmp_path)
        page.close()


def test_the_unknown_sender_reaches_the_inbox_on_every_channel(db_url: str) -> None:
    with sandbox_app(db_url, clock=OffsetClock(MONDAY_NIGHT)) as (web, sandbox):
        unknown = [p for p in sandbox.personas() if p.role == "unknown"]
        assert {p.channel for p in unknown} == {"sms", "telegram", "slack"}
        for persona in unknown:
            assert sandbox.send(persona, f"Hello from nowhere on {persona.channel}") == 200
        with web.api() as api:
            filed = eventually(
                lambda: (
                    items
                    if len(items := api.get("/api/conversations").json()["items"]) == 3
                    else None
                )
            )
        assert {c["channel"] for c in filed} == {"sms", "telegram", "slack"}
        assert all(c["client"]["id"] is None for c in filed)
