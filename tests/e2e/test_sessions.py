"""Inbox sessions end: on sign-out, on a new password, by `partnerline users revoke`, on expiry.

A copied cookie is replayed from another client after its session ended; it must open
nothing (not /inbox, not /api, not a note). The cookie itself is an opaque random token whose
hash alone is stored.
"""

from __future__ import annotations

import argparse
import base64
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from adapters.standins.twilio import TwilioStandIn
from bot.cli.common import CliError
from bot.cli.users import cmd_users_revoke
from bot.http.sessions import SESSION_COOKIE, SESSION_MAX_AGE
from bot.usecases.accounts import StaffAccounts
from routing.clock import FrozenClock
from storage.accounts import StaffAccountRepository
from storage.sessions import token_hash
from storage.tables import StaffSessionRow
from tests.browser.inbox_support import add_login, csrf_from, inbox_app, signed_in
from tests.e2e.test_web_auth import MONDAY_MORNING, _conversation, _notes
from tests.support.app import RunningApp


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(MONDAY_MORNING)


@pytest.fixture
def web(db_url: str, twilio: TwilioStandIn, clock: FrozenClock) -> Iterator[RunningApp]:
    with inbox_app(db_url, twilio.url, clock=clock) as running:
        add_login(running.container, "ana", "ana")
        yield running


def _replay(web: RunningApp, cookie: str) -> httpx.Client:
    """A fresh client holding only a copy of the cookie, as a thief would."""
    return httpx.Client(base_url=web.url, timeout=10, cookies={SESSION_COOKIE: cookie})


def _assert_refused(web: RunningApp, cookie: str, csrf: str, conversation: int) -> None:
    before = _notes(web)
    with _replay(web, cookie) as thief:
        page = thief.get("/inbox")
        assert page.status_code == 303 and page.headers["location"].startswith("/login")
        assert thief.get("/api/conversations").status_code == 401
        api_note = thief.post(
            f"/api/conversations/{conversation}/notes",
            json={"text": "replayed"},
            headers={"X-CSRF-Token": csrf},
        )
        assert api_note.status_code == 401
        form_note = thief.post(
            f"/inbox/conversations/{conversation}/notes",
            data={"text": "replayed", "csrf_token": csrf},
        )
        assert form_note.status_code == 303
        assert form_note.headers["location"].startswith("/login")
    assert _notes(web) == before


def test_a_cookie_replayed_after_sign_out_is_refused(web: RunningApp) -> None:
    conversation = _conversation(web)
    with signed_in(web.url, "ana") as browser:
        cookie = browser.cookies[SESSION_COOKIE]
        csrf = csrf_from(browser.get("/inbox").text)
        with _replay(web, cookie) as copy:  # the copy works while the session lives
            assert copy.get("/inbox").status_code == 200
            noted = copy.post(
                f"/api/conversations/{conversation}/notes",
                json={"text": "while signed in"},
                headers={"X-CSRF-Token": csrf},
            )
            assert noted.status_code == 201
        assert browser.post("/logout", data={"csrf_token": csrf}).status_code == 303
    _assert_refused(web, cookie, csrf, conversation)


def test_the_cookie_is_an_opaque_token_stored_only_as_its_hash(web: RunningApp) -> None:
    with signed_in(web.url, "ana") as browser:
        cookie = browser.cookies[SESSION_COOKIE]
    with web.container.db.session() as session:
        account = StaffAccountRepository(session).by_login("ana")
        assert account is not None
        rows = session.scalars(select(StaffSessionRow)).all()
        password_hash = account.password_hash
    assert len(rows) == 1 and rows[0].token_hash == token_hash(cookie) != cookie
    assert len(cookie) >= 43  # secrets.token_urlsafe(32)
    decoded = base64.urlsafe_b64decode(cookie + "=" * (-len(cookie) % 4))
    for text in (cookie, decoded.decode("latin-1")):
        # No run of 6 characters of the password hash (its salt, its digest) is in the cookie.
        assert not any(password_hash[i : i + 6] in text for i in range(len(password_hash) - 5))
    assert rows[0].csrf_token not in cookie


def test_users_revoke_ends_every_live_session_of_that_login(
    web: RunningApp,
    db_url: str,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    conversation = _conversation(web)
    # The command counts the sessions live by the system's clock: the sign-ins happen now,
    # not on the fixed Monday (whose sessions had run out half a day after it).
    clock.set(datetime.now(UTC))
    monkeypatch.setenv("DATABASE_URL", db_url)
    with signed_in(web.url, "ana") as laptop, signed_in(web.url, "ana") as phone:
        csrf = csrf_from(laptop.get("/inbox").text)
        assert phone.get("/inbox").status_code == 200
        assert cmd_users_revoke(argparse.Namespace(login="ana")) == 0
        assert "2 sessions ended" in capsys.readouterr().out
        for browser in (laptop, phone):
            _assert_refused(web, browser.cookies[SESSION_COOKIE], csrf, conversation)
    with signed_in(web.url, "ana") as again:  # revoking ends sessions, not the login
        assert again.get("/inbox").status_code == 200
    with pytest.raises(CliError, match="no login 'zed'"):
        cmd_users_revoke(argparse.Namespace(login="zed"))


def test_a_new_password_revokes_every_session(web: RunningApp) -> None:
    conversation = _conversation(web)
    with signed_in(web.url, "ana") as browser:
        cookie = browser.cookies[SESSION_COOKIE]
        csrf = csrf_from(browser.get("/inbox").text)
        with web.container.db.session() as session:
            StaffAccounts(StaffAccountRepository(session)).set_password(
                "ana", "another long one", web.container.clock.now()
            )
            session.commit()
    _assert_refused(web, cookie, csrf, conversation)


def test_a_session_ends_after_its_lifetime(web: RunningApp, clock: FrozenClock) -> None:
    with signed_in(web.url, "ana") as browser:
        assert browser.get("/inbox").status_code == 200
        clock.advance(timedelta(seconds=SESSION_MAX_AGE - 60))
        assert browser.get("/inbox").status_code == 200
        clock.advance(timedelta(seconds=60))
        assert browser.get("/inbox").status_code == 303
    with signed_in(web.url, "ana") as browser:  # a new sign-in clears the expired rows
        assert browser.get("/inbox").status_code == 200
    with web.container.db.session() as session:
        assert len(session.scalars(select(StaffSessionRow)).all()) == 1
