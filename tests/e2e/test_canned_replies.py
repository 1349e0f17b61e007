"""Canned replies over HTTP, on the real app (SQLite and PostgreSQL): admins keep the list at
/inbox/canned; the conversation page carries each one filled for its conversation; bad input
(no admin, no CSRF, an unknown id, empty, too long, a taken title) is answered plainly and
changes nothing."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from html import unescape
from zoneinfo import ZoneInfo

import httpx
import pytest

from adapters.standins.twilio import TwilioStandIn
from bot.http.web.canned import canned_replies
from routing.clock import OffsetClock
from tests.browser.inbox_support import add_login, csrf_from, inbox_app, signed_in
from tests.e2e.test_sms_flow import eventually
from tests.support.app import RunningApp

MONDAY_MORNING = datetime(2026, 12, 7, 10, 0, tzinfo=ZoneInfo("America/Detroit"))
DANA, STRANGER = "+13135550142", "+13135559999"


@pytest.fixture
def web(db_url: str, twilio: TwilioStandIn) -> Iterator[RunningApp]:
    with inbox_app(db_url, twilio.url, clock=OffsetClock(MONDAY_MORNING)) as running:
        add_login(running.container, "jim", "jim", admin=True)
        add_login(running.container, "ana", "ana")
        yield running


def stored(web: RunningApp) -> list[tuple[str, str]]:
    return [(r.title, r.text) for r in canned_replies(web.container).all()]


def token(client: httpx.Client) -> str:
    return csrf_from(client.get("/inbox/canned").text)


def conversation_of(web: RunningApp, sender: str, sid: str, text: str) -> int:
    assert web.post_sms(web.sms_form(sid, sender, text)).status_code == 200
    with web.api() as api:
        found = eventually(
            lambda: [
                c["id"]
                for c in api.get("/api/conversations").json()["items"]
                if c["contact"]["address"] == sender
            ]
        )
    return int(found[0])


def picker_data(html: str) -> list[dict[str, object]]:
    match = re.search(r"data-canned='([^']*)'", html)
    assert match, "the composer carries no canned replies"
    data: list[dict[str, object]] = json.loads(unescape(match.group(1)))
    return data


def test_an_admin_adds_edits_and_deletes_and_staff_see_the_list(web: RunningApp) -> None:
    with signed_in(web.url, "jim") as jim:
        csrf = token(jim)
        added = jim.post(
            "/inbox/canned",
            data={"csrf_token": csrf, "title": "On it", "text": "Hi {contact_first_name}!"},
        )
        assert added.status_code == 303 and added.headers["location"] == "/inbox/canned"
        jim.post(
            "/inbox/canned",
            data={"csrf_token": csrf, "title": "Bye", "text": "Talk soon."},
        )
        assert stored(web) == [("Bye", "Talk soon."), ("On it", "Hi {contact_first_name}!")]
        [on_it] = [r for r in canned_replies(web.container).all() if r.title == "On it"]
        edited = jim.post(
            f"/inbox/canned/{on_it.id}",
            data={"csrf_token": csrf, "title": "On it now", "text": "Looking, {contact_name}."},
        )
        assert edited.status_code == 303
        assert ("On it now", "Looking, {contact_name}.") in stored(web)
        [bye] = [r for r in canned_replies(web.container).all() if r.title == "Bye"]
        assert (
            jim.post(f"/inbox/canned/{bye.id}/delete", data={"csrf_token": csrf}).status_code == 303
        )
        assert stored(web) == [("On it now", "Looking, {contact_name}.")]
    with signed_in(web.url, "ana") as ana:
        page = ana.get("/inbox/canned").text
        assert "On it now" in page and "Looking, {contact_name}." in page
        assert 'action="/inbox/canned"' not in page  # no forms for a non-admin
        assert "{contact_first_name}" in page and "{due_time}" in page  # the documented list


def test_the_composer_carries_each_reply_filled_for_the_conversation(web: RunningApp) -> None:
    dana = conversation_of(web, DANA, "SM" + "1" * 32, "The dashboard is empty")
    stranger = conversation_of(web, STRANGER, "SM" + "2" * 32, "Who is this?")
    canned = canned_replies(web.container)
    canned.add(
        "Everything",
        "Hi {contact_first_name} ({contact_name}, {client_name}), {my_first_name} here: "
        "back by {due_time}. Ref {tracking_no}, {Contact_Name}, {contact_first_name",
        "jim",
    )
    with signed_in(web.url, "ana") as ana:
        [item] = picker_data(ana.get(f"/inbox/conversations/{dana}").text)
        text = str(item["text"])
        assert item["title"] == "Everything"
        assert text.startswith("Hi Dana (Dana Reyes, Acme Robotics), Ana here: back by ")
        # Dana's client is promised 30 minutes, in Detroit: the acknowledgement's words.
        assert re.search(r"back by 10:\d\d AM( [A-Z]+)?\. ", text), text
        # Unknown or malformed placeholders stay visible, for the sender to fix.
        assert text.endswith("Ref {tracking_no}, {Contact_Name}, {contact_first_name")
        [other] = picker_data(ana.get(f"/inbox/conversations/{stranger}").text)
        assert str(other["text"]).startswith(f"Hi there ({STRANGER}, ")


def test_a_non_admin_changes_nothing(web: RunningApp) -> None:
    reply = canned_replies(web.container).add("Kept", "As it was", "jim")
    with signed_in(web.url, "ana") as ana:
        csrf = token(ana)
        for path, data in [
            ("/inbox/canned", {"title": "Mine", "text": "Sneaky"}),
            (f"/inbox/canned/{reply.id}", {"title": "Changed", "text": "Changed"}),
            (f"/inbox/canned/{reply.id}/delete", {}),
        ]:
            answer = ana.post(path, data={"csrf_token": csrf, **data})
            assert answer.status_code == 403, path
            assert "Only admin accounts may change the canned replies." in answer.text
    assert stored(web) == [("Kept", "As it was")]


def test_bad_input_is_answered_and_changes_nothing(web: RunningApp) -> None:
    reply = canned_replies(web.container).add("Kept", "As it was", "jim")
    with signed_in(web.url, "jim") as jim:
        csrf = token(jim)
        cases = [
            ("/inbox/canned/999999", {"title": "x", "text": "y"}, 404, "No canned reply 999999"),
            ("/inbox/canned/999999/delete", {}, 404, "No canned reply 999999"),
            ("/inbox/canned", {"title": " ", "text": "y"}, 400, "a title and a text"),
            ("/inbox/canned", {"title": "t"}, 400, "a title and a text"),
            ("/inbox/canned", {"title": "t" * 101, "text": "y"}, 400, "at most 100"),
            ("/inbox/canned", {"title": "t", "text": "y" * 10_001}, 400, "at most 10000"),
            ("/inbox/canned", {"title": "Kept", "text": "again"}, 409, "already titled"),
        ]
        for path, data, status, message in cases:
            answer = jim.post(path, data={"csrf_token": csrf, **data})
            assert answer.status_code == status, (path, data, answer.text[:300])
            assert message in answer.text, (path, data)
        # A refused add keeps what was typed, to correct rather than retype.
        kept = jim.post("/inbox/canned", data={"csrf_token": csrf, "title": "", "text": "Draft"})
        assert ">Draft</textarea>" in kept.text
        assert jim.get("/inbox/canned/abc").status_code in (404, 405)
        no_csrf = jim.post("/inbox/canned", data={"title": "Forged", "text": "x"})
        assert no_csrf.status_code == 403
    assert stored(web) == [("Kept", "As it was")]
    assert reply.id > 0


def test_anonymous_visitors_are_sent_to_sign_in(web: RunningApp) -> None:
    with httpx.Client(base_url=web.url, verify=False) as anonymous:
        assert anonymous.get("/inbox/canned").status_code == 303
        assert anonymous.post("/inbox/canned", data={"title": "a", "text": "b"}).status_code in (
            303,
            403,
        )
    assert stored(web) == []
