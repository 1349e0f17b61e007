"""Every answer carries `X-Content-Type-Options: nosniff`; one that came over HTTPS also
carries `Strict-Transport-Security` (bot/http/security_headers.py), whichever layer answered: a
route, the auth check, a webhook's signature check, the body limit (413), an unexpected error
(500), the router (404). The app runs on loopback behind uvicorn, which, as behind a real proxy,
takes the scheme from `X-Forwarded-Proto` sent by 127.0.0.1 (FORWARDED_ALLOW_IPS).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from adapters.standins.twilio import TwilioStandIn
from bot.http.body_limits import MB
from routing.clock import OffsetClock
from tests.browser.inbox_support import add_login, signed_in
from tests.e2e.conftest import MONDAY_MORNING
from tests.e2e.test_error_responses import overrides_table_gone
from tests.support.app import ADMIN_TOKEN, RunningApp, running_app

HSTS = "max-age=31536000"
HTTPS = {"X-Forwarded-Proto": "https"}


def answers(app: RunningApp, headers: dict[str, str]) -> dict[str, httpx.Response]:
    """One answer from each layer that can answer, each sent with `headers`."""
    with httpx.Client(base_url=app.url, headers=headers, timeout=10) as client:
        return {
            "healthz": client.get("/healthz"),
            "api 401": client.get("/api/conversations"),
            "login page": client.get("/login"),
            "webhook 403": client.post("/webhooks/twilio/sms", data={"Body": "unsigned"}),
            "413": client.post(
                "/api/conversations/1/notes",
                content=b"x" * (2 * MB),
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            ),
            "404": client.get("/no/such/page"),
        }


EXPECTED_STATUS = {
    "healthz": 200,
    "api 401": 401,
    "login page": 200,
    "webhook 403": 403,
    "413": 413,
    "404": 404,
}


def test_every_answer_over_http_is_nosniff_without_hsts(app: RunningApp) -> None:
    for name, response in answers(app, {}).items():
        assert response.status_code == EXPECTED_STATUS[name], (name, response.text)
        assert response.headers.get("x-content-type-options") == "nosniff", name
        assert "strict-transport-security" not in response.headers, name


def test_every_answer_over_https_also_carries_hsts(app: RunningApp) -> None:
    for name, response in answers(app, HTTPS).items():
        assert response.status_code == EXPECTED_STATUS[name], (name, response.text)
        assert response.headers.get("x-content-type-options") == "nosniff", name
        # One year; no includeSubDomains or preload: the operator's domain is not ours.
        assert response.headers.get("strict-transport-security") == HSTS, name


def test_an_unexpected_500_carries_the_headers(app: RunningApp, db_url: str) -> None:
    def failed(headers: dict[str, str]) -> httpx.Response:
        with app.api() as api, overrides_table_gone(db_url):
            return api.get("/api/oncall", headers=headers)

    plain, secure = failed({}), failed(HTTPS)
    assert (plain.status_code, secure.status_code) == (500, 500), plain.text
    assert plain.headers.get("x-content-type-options") == "nosniff"
    assert "strict-transport-security" not in plain.headers
    assert secure.headers.get("x-content-type-options") == "nosniff"
    assert secure.headers.get("strict-transport-security") == HSTS


def test_the_live_stream_still_streams_with_the_headers(app: RunningApp) -> None:
    add_login(app.container, "jim", "jim")
    with (
        signed_in(app.url, "jim") as browser,
        browser.stream("GET", "/inbox/events", headers=HTTPS) as stream,
    ):
        assert stream.headers.get("x-content-type-options") == "nosniff"
        assert stream.headers.get("strict-transport-security") == HSTS
        # The first event arrives while the stream is open (it lasts far longer than this).
        for line in stream.iter_lines():
            if line.startswith("event: "):
                assert line == "event: ready"
                break


@pytest.fixture
def https_app(db_url: str, twilio: TwilioStandIn) -> Iterator[RunningApp]:
    """The app with an https PUBLIC_URL: a proxy that sends no X-Forwarded-Proto."""
    with running_app(
        db_url,
        twilio.url,
        clock=OffsetClock(MONDAY_MORNING),
        PUBLIC_URL="https://inbox.example-agency.test",
    ) as running:
        yield running


def test_an_https_public_url_means_hsts_on_every_answer(https_app: RunningApp) -> None:
    for name, response in answers(https_app, {}).items():
        assert response.headers.get("x-content-type-options") == "nosniff", name
        assert response.headers.get("strict-transport-security") == HSTS, name
