"""Roles on the server: every route that changes something, walked as each kind of caller.

`ROLES` classifies every mutating route of the app (webhooks and the login form carry their
own credential; the rest need a staff session or the admin bearer token). The routes are
read from the app itself, so a new route fails this test until it is classified here. A
signed-in non-admin is refused (403) on every admin-only route and nothing changes; an admin,
by session or by PARTNERLINE_ADMIN_TOKEN, succeeds.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from starlette.routing import BaseRoute

from bot.bootstrap import create_app
from routing.clock import FrozenClock
from tests.browser.inbox_support import add_login, csrf_from, sandbox_app, signed_in
from tests.support.app import EXAMPLE_CONFIG, RunningApp

MONDAY_MORNING = datetime(2026, 12, 7, 10, 0, tzinfo=ZoneInfo("America/Detroit"))
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})

PUBLIC = "own credential"  # a provider signature, or the login form itself
STAFF = "any staff"
ADMIN = "admin only"

ROLES: dict[tuple[str, str], str] = {
    ("POST", "/webhooks/twilio/sms"): PUBLIC,
    ("POST", "/webhooks/twilio/status"): PUBLIC,
    ("POST", "/webhooks/twilio/voice"): PUBLIC,
    ("POST", "/webhooks/telegram"): PUBLIC,
    ("POST", "/webhooks/slack"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("POST", "/logout"): STAFF,
    ("POST", "/api/conversations/{conversation_id}/reply"): STAFF,
    ("POST", "/api/conversations/{conversation_id}/notes"): STAFF,
    ("POST", "/api/conversations/{conversation_id}/close"): STAFF,
    ("POST", "/api/conversations/{conversation_id}/reopen"): STAFF,
    ("POST", "/api/conversations/{conversation_id}/assign"): STAFF,
    # Triage and contacts are everyday staff work; the file's contacts refuse edits (409).
    ("POST", "/api/conversations/{conversation_id}/link"): STAFF,
    ("POST", "/api/contacts"): STAFF,
    ("PATCH", "/api/contacts/{contact_id}"): STAFF,
    ("POST", "/api/contacts/{contact_id}/merge"): STAFF,
    ("POST", "/api/pages/{page_id}/ack"): STAFF,
    ("POST", "/inbox/conversations/{conversation_id}/reply"): STAFF,
    ("POST", "/inbox/conversations/{conversation_id}/notes"): STAFF,
    ("POST", "/inbox/conversations/{conversation_id}/assign"): STAFF,
    ("POST", "/inbox/conversations/{conversation_id}/close"): STAFF,
    ("POST", "/inbox/conversations/{conversation_id}/reopen"): STAFF,
    ("POST", "/inbox/conversations/{conversation_id}/link"): STAFF,
    ("POST", "/inbox/contacts/{contact_id}/merge"): STAFF,  # the merge screen's confirm
    ("POST", "/inbox/pages/{page_id}/ack"): STAFF,
    ("POST", "/sandbox/send"): STAFF,
    ("POST", "/inbox/profile"): STAFF,  # one's own time zone
    ("POST", "/inbox/upload/{conversation_id}"): STAFF,  # a file sent as a reply
    ("POST", "/inbox/canned"): ADMIN,
    ("POST", "/inbox/canned/{reply_id}"): ADMIN,
    ("POST", "/inbox/canned/{reply_id}/delete"): ADMIN,
    ("POST", "/api/overrides"): ADMIN,
    ("DELETE", "/api/overrides/{override_id}"): ADMIN,
    ("POST", "/inbox/overrides"): ADMIN,
    ("POST", "/inbox/overrides/{override_id}/delete"): ADMIN,
    ("POST", "/inbox/simulate"): ADMIN,  # what-if: nothing applied, but it costs a run
}

OVERRIDE = {
    "rotation": "leadership",
    "staff": "raj",
    "start": "2026-12-08T09:00:00-05:00",
    "end": "2026-12-08T17:00:00-05:00",
}
INBOX_OVERRIDE = {**OVERRIDE, "start": "2026-12-08T09:00", "end": "2026-12-08T17:00"}
# The example agency proposed as it is, against a week of a few synthetic messages a day.
WHAT_IF = {
    "text": EXAMPLE_CONFIG.read_text(encoding="utf-8"),
    "from": "2026-11-30",
    "to": "2026-12-06",
    "traffic": "synthetic",
    "per_day": "5",
}

# How each admin-only route is called: (client, csrf token, an existing override id) ->
# response, and the status that means it worked.
Call = Callable[[httpx.Client, str, int], httpx.Response]
ADMIN_CALLS: dict[tuple[str, str], tuple[Call, int]] = {
    ("POST", "/api/overrides"): (
        lambda c, t, _: c.post("/api/overrides", json=OVERRIDE, headers={"X-CSRF-Token": t}),
        201,
    ),
    ("DELETE", "/api/overrides/{override_id}"): (
        lambda c, t, oid: c.delete(f"/api/overrides/{oid}", headers={"X-CSRF-Token": t}),
        204,
    ),
    ("POST", "/inbox/overrides"): (
        lambda c, t, _: c.post("/inbox/overrides", data={**INBOX_OVERRIDE, "csrf_token": t}),
        303,
    ),
    ("POST", "/inbox/overrides/{override_id}/delete"): (
        lambda c, t, oid: c.post(f"/inbox/overrides/{oid}/delete", data={"csrf_token": t}),
        303,
    ),
    ("POST", "/inbox/canned"): (
        lambda c, t, _: c.post("/inbox/canned", data={**_canned_form(), "csrf_token": t}),
        303,
    ),
    ("POST", "/inbox/canned/{reply_id}"): (
        lambda c, t, oid: c.post(
            f"/inbox/canned/{_canned_id(c, t, oid)}", data={**_canned_form(), "csrf_token": t}
        ),
        303,
    ),
    ("POST", "/inbox/canned/{reply_id}/delete"): (
        lambda c, t, oid: c.post(
            f"/inbox/canned/{_canned_id(c, t, oid)}/delete", data={"csrf_token": t}
        ),
        303,
    ),
    ("POST", "/inbox/simulate"): (
        lambda c, t, _: c.post("/inbox/simulate", data={**WHAT_IF, "csrf_token": t}),
        200,
    ),
}
_canned_titles = iter(range(1, 10_000))


def _canned_form() -> dict[str, str]:
    return {"title": f"Role check {next(_canned_titles)}", "text": "Hello {contact_first_name}"}


def _canned_id(client: httpx.Client, token: str, fallback: int) -> int:
    """A canned reply this client just added (an admin can), else `fallback` (refused)."""
    form = _canned_form()
    client.post("/inbox/canned", data={**form, "csrf_token": token})
    found = re.search(
        rf'id="canned-(\d+)" data-title="{form["title"]}"', client.get("/inbox/canned").text
    )
    return int(found.group(1)) if found else fallback


def mutating_routes(routes: list[BaseRoute]) -> set[tuple[str, str]]:
    """(method, path) of every route that changes something, included routers flattened."""
    found: set[tuple[str, str]] = set()
    for route in routes:
        # FastAPI keeps an included router as one entry; its contexts carry the full paths.
        contexts: Iterator[Any] | None = getattr(route, "effective_route_contexts", None)
        if contexts is not None:
            for context in route.effective_route_contexts():  # type: ignore[attr-defined]
                methods = getattr(context.original_route, "methods", None) or set()
                found |= {(m, context.path) for m in methods & MUTATING}
        else:
            methods = getattr(route, "methods", None) or set()
            found |= {(m, getattr(route, "path", "")) for m in methods & MUTATING}
    return found


@pytest.fixture
def web(db_url: str) -> Iterator[tuple[RunningApp, Any]]:
    with sandbox_app(db_url, clock=FrozenClock(MONDAY_MORNING)) as (running, sandbox):
        add_login(running.container, "jim", "jim", admin=True)
        add_login(running.container, "ana", "ana")
        yield running, sandbox


def _overrides(web: RunningApp) -> list[dict[str, Any]]:
    with web.api() as api:
        response = api.get("/api/overrides")
        assert response.status_code == 200
        return list(response.json()["items"])


def _new_override(web: RunningApp) -> int:
    with web.api() as api:
        response = api.post("/api/overrides", json=OVERRIDE)
        assert response.status_code == 201, response.text
        return int(response.json()["id"])


def test_every_mutating_route_has_a_role(web: tuple[RunningApp, Any]) -> None:
    running, sandbox = web
    # The app as `serve --sandbox` builds it, on the same container: every route there is.
    app = create_app(running.container, sandbox=sandbox)
    assert mutating_routes(app.routes) == set(ROLES)
    assert {k for k, role in ROLES.items() if role == ADMIN} == set(ADMIN_CALLS)


def test_anonymous_callers_are_refused_on_every_staff_and_admin_route(
    web: tuple[RunningApp, Any],
) -> None:
    running, _ = web
    with httpx.Client(base_url=running.url, timeout=10) as anonymous:
        for (method, path), role in ROLES.items():
            if role == PUBLIC:
                continue
            url = path.format(conversation_id=1, page_id=1, override_id=1, reply_id=1, contact_id=1)
            response = anonymous.request(method, url)
            if path.startswith("/api/"):
                assert response.status_code == 401, (method, path)
            else:
                assert response.status_code == 303, (method, path)
                assert response.headers["location"].startswith("/login"), (method, path)


def test_a_non_admin_is_refused_on_every_admin_route_and_nothing_changes(
    web: tuple[RunningApp, Any],
) -> None:
    running, _ = web
    existing = _new_override(running)
    before = _overrides(running)
    with signed_in(running.url, "ana") as staff:
        token = csrf_from(staff.get("/inbox/oncall").text)
        for key, (call, _) in ADMIN_CALLS.items():
            response = call(staff, token, existing)
            assert response.status_code == 403, (key, response.status_code, response.text)
    assert _overrides(running) == before


def test_an_admin_may_use_every_admin_route_by_session_or_by_token(
    web: tuple[RunningApp, Any],
) -> None:
    running, _ = web
    with signed_in(running.url, "jim") as admin:
        token = csrf_from(admin.get("/inbox/oncall").text)
        for key, (call, ok) in ADMIN_CALLS.items():
            response = call(admin, token, _new_override(running))
            assert response.status_code == ok, (key, response.status_code, response.text)
    with running.api() as bearer:
        for key, (call, ok) in ADMIN_CALLS.items():
            if key[1].startswith("/api/"):
                response = call(bearer, "", _new_override(running))
                assert response.status_code == ok, (key, response.status_code, response.text)
