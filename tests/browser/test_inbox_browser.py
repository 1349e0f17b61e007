"""The inbox in a real browser: sign in, watch a client message arrive live, reply, and see the
reply reach the client's stand-in; client HTML stays inert; anonymous visits are refused.

Screenshots of the inbox and a conversation are saved in the test's temporary directory, and
into docs/screenshots/ when PARTNERLINE_SCREENSHOTS=docs (how the README's images are made).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from adapters.standins.twilio import TwilioStandIn
from routing.clock import OffsetClock
from tests.browser.inbox_support import PASSWORD, add_login, inbox_app, sandbox_app, signed_in
from tests.e2e.test_sms_flow import eventually
from tests.support.app import RunningApp

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

MONDAY_MORNING = datetime(2026, 12, 7, 10, 0, tzinfo=ZoneInfo("America/Detroit"))
DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
DANA, LUCY, GEORGE = "+13135550142", "+13135550150", "+447700900123"


@pytest.fixture
def web(db_url: str, twilio: TwilioStandIn) -> Iterator[RunningApp]:
    with inbox_app(db_url, twilio.url, clock=OffsetClock(MONDAY_MORNING)) as running:
        add_login(running.container, "jim", "jim", admin=True)
        yield running


_sids = iter(range(1, 10_000))


def send_sms(web: RunningApp, sender: str, body: str) -> None:
    sid = f"SM{next(_sids):032d}"
    assert web.post_sms(web.sms_form(sid, sender, body)).status_code == 200


def sign_in(page: Any, web: RunningApp, login: str = "jim") -> None:
    page.goto(web.url + "/inbox")
    assert page.url.startswith(web.url + "/login")
    page.get_by_label("Login").fill(login)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(web.url + "/inbox")


def wait_live(page: Any) -> None:
    """Until the page's event stream is open: from then on, changes must show by themselves."""
    page.locator("body[data-live='on']").wait_for(state="attached")


def save(page: Any, name: str, tmp_path: Path, at: Any = None) -> None:
    """The window, scrolled to the top of the page (or of `at`, a locator), as `name`."""
    path = tmp_path / name
    if at is None:
        page.evaluate("window.scrollTo(0, 0)")
    else:
        at.evaluate("element => element.scrollIntoView()")
    page.screenshot(path=str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("PARTNERLINE_SCREENSHOTS") == "docs":
        DOCS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(DOCS / name))


def test_a_client_message_arrives_live_and_the_reply_reaches_the_client(
    web: RunningApp, twilio: TwilioStandIn, context: Any, tmp_path: Path
) -> None:
    page = context.new_page()
    sign_in(page, web)
    wait_live(page)
    rows = page.locator("#rows li.row")
    assert rows.count() == 0

    send_sms(web, DANA, "Our demo is at 3pm and the dashboard shows no data. Can you look?")
    row = page.locator("#rows li.row", has_text="Dana Reyes")
    row.wait_for()  # no reload: the event stream told the page
    assert "Acme Robotics" in row.inner_text() and "SMS" in row.inner_text()
    assert "left" in row.locator(".countdown").inner_text()

    # Two more clients, so that the list shows its order: the soonest promise first.
    send_sms(web, LUCY, "Could you move Thursday's call to Friday?")
    send_sms(web, GEORGE, "Invoice 1042 looks doubled.")
    eventually(lambda: rows.count() == 3)
    save(page, "inbox.png", tmp_path)

    row.click()
    page.wait_for_url("**/inbox/conversations/*")
    wait_live(page)
    assert page.locator("#timeline .msg.dir-in").first.inner_text().count("dashboard") == 1
    page.get_by_label("Reply to Dana Reyes on SMS").fill(
        "Looking now, Dana; back within 10 minutes."
    )
    page.get_by_role("button", name="Send reply").click()
    reply = page.locator("#timeline .msg.dir-out", has_text="Looking now, Dana")
    reply.wait_for()
    assert page.get_by_label("Reply to Dana Reyes on SMS").input_value() == ""
    sent = eventually(lambda: twilio.sent_to(DANA))
    assert sent[-1]["body"] == "Looking now, Dana; back within 10 minutes."
    reply.locator(".delivery-sent").wait_for()

    # The client writes again: it shows in the open conversation by itself.
    send_sms(web, DANA, "Thanks! It is back now.")
    page.locator("#timeline .msg.dir-in", has_text="It is back now").wait_for()
    page.get_by_label("Internal note (never sent)").fill("Cache was stale; told Dana.")
    page.get_by_role("button", name="Add note").click()
    page.locator("#timeline .msg.dir-note", has_text="Cache was stale").wait_for()
    save(page, "conversation.png", tmp_path)
    assert len(twilio.sent_to(DANA)) == 1  # the note never went out


def test_every_open_tab_updates(web: RunningApp, context: Any) -> None:
    first = context.new_page()
    sign_in(first, web)
    wait_live(first)  # else the message may land before the stream opens, and never show
    send_sms(web, LUCY, "Are you open on Saturday?")
    first.locator("#rows li.row", has_text="Lucy Chen").click()
    first.wait_for_url("**/inbox/conversations/*")
    second = context.new_page()
    second.goto(first.url)
    inbox = context.new_page()
    inbox.goto(web.url + "/inbox")
    for page in (first, second, inbox):
        wait_live(page)

    first.get_by_role("button", name="Close").click()
    second.locator("#conv-status", has_text="closed").wait_for()
    inbox.locator("#rows li.row", has_text="Lucy Chen").wait_for(state="detached")
    second.get_by_label("Assigned to").select_option("jim")
    second.get_by_role("button", name="Assign").click()
    first.get_by_label("Assigned to").locator("option[selected]", has_text="Jim Miller").wait_for(
        state="attached"
    )
    second.get_by_role("button", name="Reopen").click()
    first.locator("#conv-status", has_text="open").wait_for()
    inbox.locator("#rows li.row", has_text="Lucy Chen").wait_for()


def test_html_in_a_client_message_stays_inert(web: RunningApp, context: Any) -> None:
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    sign_in(page, web)
    wait_live(page)
    payload = '<script>alert("x")</script><img src=x onerror="alert(1)"><b>bold</b>'
    send_sms(web, DANA, payload)
    row = page.locator("#rows li.row", has_text="Dana Reyes")
    row.wait_for()
    assert '<img src=x onerror="alert(1)">' in row.inner_text()
    row.click()
    page.wait_for_url("**/inbox/conversations/*")
    text = page.locator("#timeline .msg.dir-in .text")
    assert text.inner_text() == payload
    assert text.locator("img, script, b").count() == 0
    assert page.locator("main img, main script").count() == 0
    page.wait_for_timeout(300)
    assert dialogs == []


def test_an_anonymous_visit_is_refused(web: RunningApp, context: Any) -> None:
    send_sms(web, GEORGE, "Private matter")
    page = context.new_page()
    for path in ("/inbox", "/inbox/conversations/1", "/inbox/oncall"):
        page.goto(web.url + path)
        assert page.url.startswith(web.url + "/login")
        assert page.get_by_role("button", name="Sign in").is_visible()
        assert "Private matter" not in page.content()
    response = page.request.get(web.url + "/api/conversations")
    assert response.status == 401
    page.get_by_label("Login").fill("jim")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text() == "Wrong login or password."


def test_the_inbox_is_usable_on_a_phone(web: RunningApp, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 700}, is_mobile=True)
    try:
        page = context.new_page()
        sign_in(page, web)
        send_sms(web, DANA, "Quick question from my phone")
        page.locator("#rows li.row", has_text="Dana Reyes").wait_for()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, f"the page scrolls sideways ({width}px)"
        page.locator("#rows li.row", has_text="Dana Reyes").click()
        page.wait_for_url("**/inbox/conversations/*")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        assert page.get_by_label("Reply to Dana Reyes on SMS").is_visible()
    finally:
        context.close()


def test_the_sandbox_plays_a_client_end_to_end(db_url: str, context: Any) -> None:
    with sandbox_app(db_url, clock=OffsetClock(MONDAY_MORNING)) as (web, sandbox):
        add_login(web.container, "jim", "jim", admin=True)
        staff = context.new_page()
        sign_in(staff, web)
        wait_live(staff)
        client = context.new_page()
        client.goto(web.url + "/sandbox")
        client.get_by_label("Play").select_option("sms:" + DANA)  # the first: already chosen
        client.get_by_label("Message from Dana Reyes on sms").fill("Hello from the sandbox")
        client.get_by_role("button", name="Send as Dana Reyes").click()
        client.locator("#sandbox-thread .msg.dir-in", has_text="Hello from the sandbox").wait_for()

        row = staff.locator("#rows li.row", has_text="Dana Reyes")
        row.wait_for()  # arrived live in the inbox
        row.click()
        staff.wait_for_url("**/inbox/conversations/*")
        staff.get_by_label("Reply to Dana Reyes on SMS").fill("Hi Dana, the sandbox works.")
        staff.get_by_role("button", name="Send reply").click()
        # The reply reaches the client's stand-in, and shows on the client's side by itself.
        client.locator("#sandbox-thread .msg.dir-out", has_text="the sandbox works").wait_for()
        assert [m["body"] for m in sandbox.twilio.sent_to(DANA)] == ["Hi Dana, the sandbox works."]
        # Closed before the app stops: their open live streams would hold its shutdown for
        # the loopback server's 10 s limit (the `web` fixture's tests close theirs first).
        staff.close()
        client.close()


def test_there_is_no_sandbox_outside_sandbox_mode(web: RunningApp) -> None:

    with signed_in(web.url, "jim") as browser:
        assert browser.get("/sandbox").status_code == 404
