"""Input a client or a fuzzer chooses never gets a 5xx: ids past what a key holds, cursors that
are not ours, times past what a calendar holds. Each case is answered 400, 404 or 422 with a
JSON `detail`, on SQLite and on PostgreSQL (whose INTEGER keys overflow at 2^31)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from adapters.standins.twilio import TwilioStandIn
from routing.clock import OffsetClock
from tests.browser.inbox_support import add_login, csrf_from, signed_in
from tests.e2e.test_escalation import DANA, GEORGE, STORY_CONFIG, TUESDAY_EVENING, pages, text
from tests.e2e.test_outbound_order import open_conversation
from tests.e2e.test_sms_flow import eventually
from tests.support.app import RunningApp, running_app

BAD_IDS = ["0", "-1", "2147483648", "3000000000", "9223372036854775808", "1" + "0" * 30]
BAD_IDS += ["abc", "%C2%B2", "1.5", "1e3"]
ID_ROUTES = [
    ("GET", "/api/conversations/{}"),
    ("POST", "/api/conversations/{}/reply"),
    ("POST", "/api/conversations/{}/notes"),
    ("POST", "/api/conversations/{}/close"),
    ("POST", "/api/conversations/{}/reopen"),
    ("POST", "/api/conversations/{}/assign"),
    ("GET", "/api/pages/{}"),
    ("POST", "/api/pages/{}/ack"),
    ("DELETE", "/api/overrides/{}"),
]
BODIES = {"reply": {"text": "hi"}, "notes": {"text": "hi"}, "assign": {"staff": None}}


def _cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


BAD_CURSORS = [
    "%C2%B2",  # str.isdigit() says yes
    "9" * 5000,
    "99999999999999999999",
    _cursor(["due", "2026-12-01T00:00:00", 1]),  # a due time without its offset
    _cursor(["updated", None, 1]),
    _cursor(["updated", "2026-12-01T00:00:00+00:00", 10**20]),
    _cursor(["updated", "9999-12-31T23:59:59-14:00", 1]),
    _cursor(["due", "2026-12-01T00:00:00+00:00", "1"]),
]
LIST_ROUTES = [
    "/api/conversations",
    "/api/conversations?sort=due_at",
    "/api/pages",
    "/api/overrides",
]
BAD_TIMES = [
    "9999-12-31T23:59:59+00:00",
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00+14:00",
    "2026-12-07T10:00:00",  # no offset
    "-1.5e16",
]


def _problems(app: RunningApp, calls: list[tuple[str, str, Any]]) -> list[str]:
    """Each call whose answer is not a 4xx with a JSON `detail`, described."""
    wrong = []
    with app.api() as api:
        for method, path, body in calls:
            response = api.request(method, path, json=body)
            ok = 400 <= response.status_code < 500 and "detail" in response.json()
            if not ok:
                answer = f"{response.status_code} {response.text[:120]}"
                wrong.append(f"{method} {path[:80]} -> {answer}")
    return wrong


def test_ids_out_of_range_or_not_numbers_are_404_on_every_id_route(app: RunningApp) -> None:
    calls = []
    for method, template in ID_ROUTES:
        body = next((b for k, b in BODIES.items() if template.endswith(k)), None)
        calls += [(method, template.format(bad), body) for bad in BAD_IDS]
    assert _problems(app, calls) == []
    with app.api() as api:
        answer = api.get("/api/conversations/3000000000")
        assert answer.status_code == 404
        assert answer.json()["code"] == "not_found"


def test_cursors_we_did_not_give_out_are_400(app: RunningApp) -> None:
    calls = []
    for route in LIST_ROUTES:
        joiner = "&" if "?" in route else "?"
        calls += [("GET", f"{route}{joiner}cursor={c}", None) for c in BAD_CURSORS]
    assert _problems(app, calls) == []
    with app.api() as api:
        assert api.get("/api/pages", params={"cursor": "²"}).status_code == 400


def test_times_out_of_range_are_400_for_who_is_on_call_and_overrides(app: RunningApp) -> None:
    calls: list[tuple[str, str, Any]] = []
    for at in BAD_TIMES:
        calls.append(("GET", "/api/oncall?at=" + httpx.QueryParams({"x": at})["x"], None))
        override = {"rotation": "leadership", "staff": "raj", "start": at, "end": at}
        calls.append(("POST", "/api/overrides", override))
        calls.append(("POST", "/api/overrides", {**override, "start": "2026-12-08T09:00Z"}))
    wrong = _problems(app, [(m, p.replace("+", "%2B"), b) for m, p, b in calls])
    assert wrong == []
    with app.api() as api:
        refused = api.get("/api/oncall", params={"at": "9999-12-31T23:59:59+00:00"})
        # The same shape as every other 400: a sentence and a code.
        assert refused.status_code == 400
        assert isinstance(refused.json()["detail"], str)
        assert refused.json()["code"] == "time_out_of_range"
        assert api.get("/api/overrides").json()["items"] == []


def test_validation_problems_name_their_type(app: RunningApp) -> None:
    with app.api() as api:
        answer = api.get("/api/conversations", params={"limit": "many"})
    assert answer.status_code == 422
    [problem] = answer.json()["detail"]
    assert problem["loc"] == ["query", "limit"]
    assert problem["type"] == "int_parsing"
    assert "input" not in problem  # what the caller sent is not echoed back


@pytest.fixture
def story(db_url: str, twilio: TwilioStandIn) -> Iterator[RunningApp]:
    with running_app(
        db_url, twilio.url, clock=OffsetClock(TUESDAY_EVENING), config_path=STORY_CONFIG
    ) as app:
        add_login(app.container, "raj", "raj")
        yield app


def test_the_page_ack_form_takes_any_back_link_and_answers_a_safe_redirect(
    story: RunningApp,
) -> None:
    text(story, DANA, "The statement has a typo!")
    text(story, GEORGE, "Our launch post is wrong")
    first, second = eventually(lambda: len(pages(story, state="open")) == 2 and pages(story))
    with signed_in(story.url, "raj") as browser:
        token = csrf_from(browser.get("/inbox/oncall").text)
        euro = browser.post(
            f"/inbox/pages/{first['id']}/ack", data={"csrf_token": token, "back": "/inbox/€"}
        )
        # Not ASCII: percent-encoded, still inside the inbox.
        assert euro.status_code == 303
        assert euro.headers["location"] == "/inbox/%E2%82%AC"
        split = browser.post(
            f"/inbox/pages/{second['id']}/ack",
            data={"csrf_token": token, "back": "/inbox\r\nSet-Cookie: x=1"},
        )
        # A CRLF would split the header: the form goes back to the on-call page instead.
        assert split.status_code == 303
        assert split.headers["location"] == "/inbox/oncall"
        assert "x" not in browser.cookies
        elsewhere = browser.post(
            "/inbox/pages/3000000000/ack", data={"csrf_token": token, "back": "//evil.example"}
        )
        assert elsewhere.status_code == 404
    assert [p["state"] for p in pages(story)] == ["acknowledged", "acknowledged"]


def test_a_nul_in_a_query_is_400_and_in_a_text_is_dropped(app: RunningApp) -> None:
    calls = [
        ("GET", f"/api/conversations?{name}=a%00b", None)
        for name in ("q", "client", "assignee", "cursor")
    ]
    calls += [("GET", "/api/overrides?rotation=%00", None), ("GET", "/api/oncall?at=%00", None)]
    assert _problems(app, calls) == []
    with app.api() as api:
        refused = api.get("/api/conversations", params={"q": "a\x00b"})
        assert refused.json() == {
            "detail": "query parameter 'q' holds a NUL character",
            "code": "malformed",
        }
    conv_id = open_conversation(app)
    with app.api() as api:
        note = api.post(f"/api/conversations/{conv_id}/notes", json={"text": "a\x00b"})
        assert note.status_code == 201 and note.json()["text"] == "ab"
        only_nul = api.post(f"/api/conversations/{conv_id}/reply", json={"text": "\x00\x00"})
        assert only_nul.status_code == 422
        assert only_nul.json()["detail"][0]["type"] == "text_empty"
