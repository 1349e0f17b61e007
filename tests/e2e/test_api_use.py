"""Using the staff API as the README says: the OpenAPI document names both ways in (the admin
bearer token; an inbox session with its CSRF header on writes), a signed-in write without the
header is told so (401 as docs/CONTRACT.md says, but not "authentication required"), and
/docs is served from the package."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest

from adapters.standins.twilio import TwilioStandIn
from routing.clock import OffsetClock
from tests.browser.inbox_support import add_login, csrf_from, inbox_app, signed_in
from tests.e2e.test_sms_flow import eventually
from tests.support.app import ADMIN_TOKEN, LOOPBACK_TLS, RunningApp

MONDAY_MORNING = datetime(2026, 12, 7, 10, 0, tzinfo=ZoneInfo("America/Detroit"))
DANA = "+13135550142"


@pytest.fixture
def web(db_url: str, twilio: TwilioStandIn) -> Iterator[RunningApp]:
    with inbox_app(db_url, twilio.url, clock=OffsetClock(MONDAY_MORNING)) as running:
        add_login(running.container, "ana", "ana")
        yield running


def _conversation(web: RunningApp) -> int:
    assert web.post_sms(web.sms_form("SM" + "7" * 32, DANA, "Is the demo on?")).status_code == 200
    with web.api() as api:
        items = eventually(lambda: api.get("/api/conversations").json()["items"] or None)
    return int(items[0]["id"])


def test_the_document_declares_the_token_and_the_session(web: RunningApp) -> None:
    with httpx.Client(base_url=web.url, timeout=10, verify=LOOPBACK_TLS) as anon:
        doc = anon.get("/openapi.json").json()
    schemes = doc["components"]["securitySchemes"]
    assert schemes["AdminToken"]["type"] == "http" and schemes["AdminToken"]["scheme"] == "bearer"
    assert "PARTNERLINE_ADMIN_TOKEN" in schemes["AdminToken"]["description"]
    assert schemes["InboxSession"] == {
        **schemes["InboxSession"],
        "type": "apiKey",
        "in": "cookie",
        "name": "partnerline_session",
    }
    assert schemes["CsrfHeader"]["in"] == "header"
    assert schemes["CsrfHeader"]["name"] == "X-CSRF-Token"
    paths = doc["paths"]
    # A read takes the token or the cookie; a write by cookie needs the header as well.
    assert paths["/api/conversations"]["get"]["security"] == [
        {"AdminToken": []},
        {"InboxSession": []},
    ]
    reply = paths["/api/conversations/{conversation_id}/reply"]["post"]
    assert reply["security"] == [{"AdminToken": []}, {"InboxSession": [], "CsrfHeader": []}]
    assert "403" in reply["responses"]
    # The calendar feeds and the health checks stay outside (tokens in the URL, or open).
    others = [
        op for path, item in paths.items() if not path.startswith("/api/") for op in item.values()
    ]
    assert others and all("security" not in op for op in others)


def test_a_signed_in_write_without_the_csrf_header_is_told_so(web: RunningApp) -> None:
    conv = _conversation(web)
    path = f"/api/conversations/{conv}/notes"
    with httpx.Client(base_url=web.url, timeout=10, verify=LOOPBACK_TLS) as anon:
        nobody = anon.post(path, json={"text": "who?"})
        assert nobody.status_code == 401 and nobody.json()["detail"] == "authentication required"
    with signed_in(web.url, "ana") as browser:
        assert browser.get("/api/conversations").status_code == 200  # reads need no header
        missing = browser.post(path, json={"text": "no header"})
        assert missing.status_code == 401
        assert missing.json()["detail"].startswith("X-CSRF-Token header missing")
        wrong = browser.post(path, json={"text": "bad"}, headers={"X-CSRF-Token": "nope"})
        assert wrong.status_code == 401
        assert wrong.json()["detail"].startswith("X-CSRF-Token header does not match")
        token = csrf_from(browser.get(f"/inbox/conversations/{conv}").text)
        ok = browser.post(path, json={"text": "by cookie"}, headers={"X-CSRF-Token": token})
        assert ok.status_code == 201
    # The README's example: the bearer token needs no CSRF header.
    with web.api() as api:
        assert api.headers["Authorization"] == f"Bearer {ADMIN_TOKEN}"
        assert api.post(path, json={"text": "by token"}).status_code == 201


def test_docs_are_served_from_the_package(web: RunningApp) -> None:
    with httpx.Client(base_url=web.url, timeout=10, verify=LOOPBACK_TLS) as anon:
        docs = anon.get("/docs")
        assert docs.status_code == 200
        assert "https://" not in docs.text and "http://" not in docs.text  # no CDN
        csp = docs.headers["content-security-policy"]
        assert "script-src 'self';" in csp and "default-src 'self'" in csp
        assets = [
            "/static/swagger-ui/swagger-ui-bundle.js",
            "/static/swagger-ui/swagger-ui.css",
            "/static/swagger-init.js",
        ]
        assert all(f'"{asset}"' in docs.text for asset in assets)
        for asset in [*assets, "/static/swagger-ui/LICENSE.txt"]:
            assert anon.get(asset).status_code == 200, asset
        assert anon.get("/redoc").status_code == 404  # FastAPI's, from a CDN: not served
