"""The inbox as staff use it all day, in a real browser: unread rows in bold until opened (for
each staff member alone) with counts on the views, the tab's title and icon counting what
wants attention, keyboard shortcuts, desktop notifications; and over HTTP, a reply taking a
conversation nobody has."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from adapters.standins.twilio import TwilioStandIn
from bot.usecases.services import Author
from routing.clock import OffsetClock
from tests.browser.conftest import TIMEOUT
from tests.browser.inbox_support import add_login, csrf_from, inbox_app, signed_in
from tests.browser.test_inbox_browser import (
    DANA,
    LUCY,
    MONDAY_MORNING,
    send_sms,
    sign_in,
    wait_live,
)
from tests.e2e.test_sms_flow import eventually
from tests.support.app import RunningApp

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

# Captures what the page asks of the Notifications API, then does it (a browser-side seam:
# headless Chromium shows nothing, so the calls are what a test can see).
CAPTURE_NOTIFICATIONS = """
(() => {
  const Real = window.Notification;
  if (!Real) return;
  window.__notifications = [];
  function Captured(title, options) {
    const o = options || {};
    window.__notifications.push({title: title, body: o.body, tag: o.tag});
    try { return new Real(title, options); } catch (e) { return {}; }
  }
  Object.defineProperty(Captured, "permission", {get: () => Real.permission});
  Captured.requestPermission = (...args) => Real.requestPermission(...args);
  window.Notification = Captured;
})();
"""


@pytest.fixture
def web(db_url: str, twilio: TwilioStandIn) -> Iterator[RunningApp]:
    with inbox_app(db_url, twilio.url, clock=OffsetClock(MONDAY_MORNING)) as running:
        add_login(running.container, "jim", "jim", admin=True)
        add_login(running.container, "ana", "ana")
        yield running


def _context(browser: Any, web: RunningApp, *, notifications: bool = False) -> Any:
    context = browser.new_context(
        viewport={"width": 1100, "height": 760}, timezone_id="America/Detroit", locale="en-US"
    )
    context.set_default_timeout(TIMEOUT)
    if notifications:
        context.grant_permissions(["notifications"], origin=web.url)
        context.add_init_script(CAPTURE_NOTIFICATIONS)
    return context


@pytest.fixture
def contexts(browser: Any) -> Iterator[list[Any]]:
    made: list[Any] = []
    yield made
    for context in made:
        context.close()


def _conversation_ids(web: RunningApp, count: int) -> dict[str, int]:
    with web.api() as api:
        eventually(lambda: len(api.get("/api/conversations").json()["items"]) == count)
        items = api.get("/api/conversations").json()["items"]
    return {c["contact"]["address"]: c["id"] for c in items}


def _view_count(page: Any, view: str) -> str:
    link = page.locator(f"#views a[data-view='{view}']")
    counts = link.locator(".unread-count")
    return counts.inner_text().split()[0] if counts.count() else ""


def test_unread_is_bold_until_opened_for_each_staff_member_and_the_title_counts(
    web: RunningApp, browser: Any, contexts: list[Any]
) -> None:
    contexts.append(jim_context := _context(browser, web))
    contexts.append(ana_context := _context(browser, web))
    jim = jim_context.new_page()
    sign_in(jim, web, "jim")
    wait_live(jim)
    icon = jim.locator("link[rel~='icon']")
    assert icon.get_attribute("href") == "/static/favicon.svg"  # nothing to count yet
    assert jim.request.get(web.url + "/static/favicon.svg").ok

    send_sms(web, DANA, "The dashboard shows no data.")
    send_sms(web, LUCY, "Could you move Thursday's call?")
    rows = jim.locator("#rows li.row")
    eventually(lambda: rows.count() == 2)
    jim.locator("#rows li.row.unread", has_text="Dana Reyes").wait_for()
    jim.locator("#rows li.row.unread", has_text="Lucy Chen").wait_for()
    assert jim.locator("#rows li.row.unread .client").first.evaluate(
        "el => getComputedStyle(el).fontWeight"
    ) in ("700", "bold")
    eventually(lambda: jim.title().startswith("(2) Inbox · "))
    eventually(lambda: (icon.get_attribute("href") or "").startswith("data:image/svg+xml,"))
    assert "%3E2%3C%2Ftext%3E" in (icon.get_attribute("href") or "")  # ">2</text>": the badge
    eventually(lambda: (_view_count(jim, "open"), _view_count(jim, "unassigned")) == ("2", "2"))
    assert _view_count(jim, "mine") == ""

    other_tab = jim_context.new_page()
    other_tab.goto(web.url + "/inbox")
    wait_live(other_tab)
    jim.locator("#rows li.row", has_text="Dana Reyes").click()
    jim.wait_for_url("**/inbox/conversations/*")
    wait_live(jim)
    eventually(lambda: jim.title().startswith("(1) "))  # read: only Lucy's is left
    # His other tab hears of it by itself.
    other_tab.locator("#rows li.row.unread", has_text="Dana Reyes").wait_for(state="detached")
    eventually(lambda: other_tab.title().startswith("(1) "))
    other_tab.close()
    jim.goto(web.url + "/inbox")
    jim.locator("#rows li.row.unread", has_text="Lucy Chen").wait_for()
    assert jim.locator("#rows li.row.unread", has_text="Dana Reyes").count() == 0
    assert _view_count(jim, "open") == "1"

    # Ana has read nothing: both still bold for her.
    ana = ana_context.new_page()
    sign_in(ana, web, "ana")
    assert ana.locator("#rows li.row.unread").count() == 2
    assert _view_count(ana, "open") == "2"
    eventually(lambda: ana.title().startswith("(2) "))

    # Dana writes again: bold again for Jim, live, and his title counts it.
    wait_live(jim)
    send_sms(web, DANA, "Still nothing on the dashboard.")
    jim.locator("#rows li.row.unread", has_text="Dana Reyes").wait_for()
    eventually(lambda: jim.title().startswith("(2) "))
    eventually(lambda: _view_count(jim, "open") == "2")


def test_keyboard_shortcuts(web: RunningApp, browser: Any, contexts: list[Any]) -> None:
    contexts.append(context := _context(browser, web))
    send_sms(web, DANA, "The dashboard shows no data.")
    send_sms(web, LUCY, "Could you move Thursday's call?")
    _conversation_ids(web, 2)
    page = context.new_page()
    sign_in(page, web, "jim")
    rows = page.locator("#rows li.row")
    assert rows.count() == 2
    first, second = (rows.nth(i).get_attribute("data-conversation") for i in (0, 1))

    page.keyboard.press("j")
    assert page.locator("#rows li.row.selected").get_attribute("data-conversation") == first
    page.keyboard.press("j")
    assert page.locator("#rows li.row.selected").get_attribute("data-conversation") == second
    page.keyboard.press("k")
    assert page.locator("#rows li.row.selected").get_attribute("data-conversation") == first
    # Typed into the search box, the same keys are only letters.
    page.get_by_label("Search").type("jk")
    assert page.get_by_label("Search").input_value() == "jk"
    assert page.locator("#rows li.row.selected").get_attribute("data-conversation") == first

    page.get_by_label("Search").blur()
    page.keyboard.press("?")
    help_dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    help_dialog.wait_for()
    for key in ("j", "k", "Enter", "r", "n", "a", "e", "?"):
        assert help_dialog.locator("kbd", has_text=re.compile(f"^{re.escape(key)}$")).count() == 1
    page.keyboard.press("Escape")
    help_dialog.wait_for(state="hidden")

    page.locator("#rows li.row.selected a").evaluate("a => a.blur()")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/inbox/conversations/{first}")
    wait_live(page)

    page.keyboard.press("r")
    reply = page.locator("#reply-text")
    assert reply.evaluate("el => el === document.activeElement")
    page.keyboard.type("no shortcuts: e a n")  # typed, not obeyed
    assert reply.input_value() == "no shortcuts: e a n"
    assert page.locator("#conv-status").inner_text() == "open"
    reply.blur()
    page.keyboard.press("n")
    assert page.locator("#note-text").evaluate("el => el === document.activeElement")
    page.locator("#note-text").blur()

    page.keyboard.press("a")
    page.get_by_label("Assigned to").locator("option[selected]", has_text="Jim Miller").wait_for(
        state="attached"
    )
    page.keyboard.press("e")
    page.locator("#conv-status", has_text="closed").wait_for()
    with web.api() as api:
        conv = api.get(f"/api/conversations/{first}").json()
    assert (conv["status"], conv["assignee"]) == ("closed", "jim")


def test_a_desktop_notification_for_a_new_client_message(
    web: RunningApp, browser: Any, contexts: list[Any]
) -> None:
    send_sms(web, LUCY, "Could you move Thursday's call?")
    lucy = _conversation_ids(web, 1)[LUCY]
    web.container.services.assign(lucy, "ana", Author("ana", "Ana Ortiz"))
    contexts.append(context := _context(browser, web, notifications=True))
    page = context.new_page()
    sign_in(page, web, "jim")
    wait_live(page)
    button = page.locator("#notify-toggle")
    assert button.inner_text() == "Enable notifications"
    button.click()
    page.locator("#notify-toggle[aria-pressed='true']").wait_for()
    assert button.inner_text() == "Notifications on"

    send_sms(web, LUCY, "Friday at 2 then?")  # Ana's conversation: not Jim's to hear of
    send_sms(web, DANA, "The dashboard shows no data.")
    page.locator("#rows li.row.unread", has_text="Dana Reyes").wait_for()
    eventually(lambda: page.evaluate("window.__notifications.length") >= 1)
    page.wait_for_timeout(500)  # time for any notification that should not come
    told = page.evaluate("window.__notifications")
    assert [(n["title"], n["body"]) for n in told] == [
        ("Dana Reyes · Acme Robotics", "The dashboard shows no data.")
    ]

    # Turned off, nothing more.
    button.click()
    page.locator("#notify-toggle[aria-pressed='false']").wait_for()
    send_sms(web, DANA, "Hello?")
    page.locator("#rows li.row", has_text="Hello?").wait_for()
    page.wait_for_timeout(500)
    assert len(page.evaluate("window.__notifications")) == 1


def test_a_reply_assigns_the_replier_on_the_web_and_the_api_but_not_the_admin_token(
    web: RunningApp,
) -> None:
    send_sms(web, DANA, "The dashboard shows no data.")
    send_sms(web, LUCY, "Could you move Thursday's call?")
    ids = _conversation_ids(web, 2)
    with web.api() as api:
        assert api.post(f"/api/conversations/{ids[LUCY]}/reply", json={"text": "On it"}).is_success
        assert api.get(f"/api/conversations/{ids[LUCY]}").json()["assignee"] is None

    with signed_in(web.url, "ana") as client:
        token = csrf_from(client.get(f"/inbox/conversations/{ids[DANA]}").text)
        answer = client.post(
            f"/inbox/conversations/{ids[DANA]}/reply", data={"csrf_token": token, "text": "Hi"}
        )
        assert answer.status_code == 303
        # The staff API, signed in: Ana takes Lucy's too.
        answer = client.post(
            f"/api/conversations/{ids[LUCY]}/reply",
            json={"text": "Friday works"},
            headers={"X-CSRF-Token": token},
        )
        assert answer.status_code == 202, answer.text
        page = client.get(f"/inbox/conversations/{ids[DANA]}").text
    with web.api() as api:
        assert api.get(f"/api/conversations/{ids[DANA]}").json()["assignee"] == "ana"
        assert api.get(f"/api/conversations/{ids[LUCY]}").json()["assignee"] == "ana"
    # Recorded as an assignment is: the activity line shows it.
    assert "Assigned to Ana Ortiz by Ana Ortiz" in page


def test_the_attention_endpoint_needs_a_session_and_refuses_nothing_it_is_sent(
    web: RunningApp,
) -> None:
    with httpx.Client(base_url=web.url, verify=False, timeout=10) as anonymous:
        assert anonymous.get("/inbox/attention").status_code in (303, 401)
    with signed_in(web.url, "ana") as client:
        first = client.get("/inbox/attention").json()
        assert (first["count"], first["notices"]) == (0, [])
        for forged in ("x", "eyJ9", "W10", "a" * 200):
            again = client.get("/inbox/attention", params={"after": forged})
            assert again.status_code == 200 and again.json()["notices"] == []
        send_sms(web, DANA, "Hello?")
        eventually(
            lambda: client.get("/inbox/attention", params={"after": first["after"]}).json()[
                "notices"
            ]
        )
        news = client.get("/inbox/attention", params={"after": first["after"]}).json()
        assert news["count"] == 1
        assert [n["kind"] for n in news["notices"]] == ["message"]
        assert news["notices"][0]["url"].startswith("/inbox/conversations/")
