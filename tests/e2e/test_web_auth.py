"""The inbox's doors at HTTP level: anonymous visits, CSRF, sign-in throttling, logout, roles.

The app is the real one (create_app, worker included) with the web inbox installed on it by
tests/browser/inbox_support.py, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import argparse
import io
import os
import stat
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import func, select

from adapters.standins.twilio import TwilioStandIn
from bot.cli.users import cmd_users_add
from bot.http.sessions import SECRET_FILE, SESSION_COOKIE, session_secret
from bot.settings import Settings
from bot.usecases.accounts import StaffAccounts
from routing.clock import FrozenClock
from storage.accounts import StaffAccountRepository
from storage.db import Database
from storage.tables import MessageRow, StaffAccountRow
from tests.browser.inbox_support import PASSWORD, add_login, csrf_from, inbox_app, signed_in
from tests.e2e.test_sms_flow import eventually
from tests.support.app import EXAMPLE_CONFIG, RunningApp

MONDAY_MORNING = datetime(2026, 12, 7, 10, 0, tzinfo=ZoneInfo("America/Detroit"))


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(MONDAY_MORNING)


@pytest.fixture
def web(db_url: str, twilio: TwilioStandIn, clock: FrozenClock) -> Iterator[RunningApp]:
    with inbox_app(db_url, twilio.url, clock=clock) as running:
        add_login(running.container, "jim", "jim", admin=True)
        add_login(running.container, "ana", "ana")
        yield running


def _conversation(web: RunningApp, body: str = "Is the demo on?") -> int:
    assert web.post_sms(web.sms_form("SM" + "1" * 32, "+13135550142", body)).status_code == 200
    with web.api() as api:
        items = eventually(lambda: api.get("/api/conversations").json()["items"] or None)
    return int(items[0]["id"])


def _notes(web: RunningApp) -> int:
    with web.container.db.session() as session:
        return int(
            session.scalar(
                select(func.count()).select_from(MessageRow).where(MessageRow.direction == "note")
            )
            or 0
        )


def test_anonymous_visitors_are_refused_everywhere(web: RunningApp) -> None:
    conv = _conversation(web)
    with httpx.Client(base_url=web.url, timeout=10) as anon:
        for path in ("/", "/inbox", f"/inbox/conversations/{conv}", "/inbox/oncall"):
            response = anon.get(path, follow_redirects=True)
            assert response.url.path == "/login", path
            assert "Dana" not in response.text
        assert anon.get("/inbox").headers["location"] == "/login?next=%2Finbox"
        assert anon.get("/inbox/events").status_code == 401
        assert anon.get(f"/inbox/conversations/{conv}/timeline").status_code == 303
        posted = anon.post(f"/inbox/conversations/{conv}/notes", data={"text": "sneaky"})
        assert posted.status_code == 303 and posted.headers["location"].startswith("/login")
        for method, path in [
            ("GET", "/api/conversations"),
            ("GET", f"/api/conversations/{conv}"),
            ("POST", f"/api/conversations/{conv}/notes"),
            ("GET", "/api/oncall"),
        ]:
            assert anon.request(method, path, json={"text": "x"}).status_code == 401, path
        # A forged cookie is nobody.
        anon.cookies.set(SESSION_COOKIE, "eyJhIjoxfQ.bm90LWEtc2lnbmF0dXJl")
        assert anon.get("/inbox").status_code == 303
        assert anon.get("/api/conversations").status_code == 401
    assert _notes(web) == 0


def test_signing_in_sets_a_protected_session_cookie(web: RunningApp) -> None:
    with httpx.Client(base_url=web.url, timeout=10) as browser:
        form = browser.get("/login")
        assert 'name="username"' in form.text and 'name="password"' in form.text
        response = browser.post(
            "/login",
            data={"username": "ana", "password": PASSWORD, "csrf_token": csrf_from(form.text)},
        )
        assert response.status_code == 303 and response.headers["location"] == "/inbox"
        cookie = response.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
        page = browser.get("/inbox")
        assert page.status_code == 200 and "Ana Ortiz" in page.text
    # Behind an HTTPS proxy (X-Forwarded-Proto from the trusted loopback) the cookie is Secure.
    with httpx.Client(
        base_url=web.url, timeout=10, headers={"X-Forwarded-Proto": "https"}
    ) as browser:
        token = csrf_from(browser.get("/login").text)
        response = browser.post(
            "/login", data={"username": "ana", "password": PASSWORD, "csrf_token": token}
        )
        assert "secure" in response.headers["set-cookie"].lower()


def test_login_form_without_its_csrf_token_is_refused(web: RunningApp) -> None:
    with httpx.Client(base_url=web.url, timeout=10) as browser:
        browser.get("/login")
        response = browser.post("/login", data={"username": "ana", "password": PASSWORD})
        assert response.status_code == 403 and SESSION_COOKIE not in response.cookies
        token = csrf_from(browser.get("/login").text)
        cross = browser.post(
            "/login",
            data={"username": "ana", "password": PASSWORD, "csrf_token": token},
            headers={"Origin": "https://evil.example"},
        )
        assert cross.status_code == 403 and SESSION_COOKIE not in cross.cookies


def test_forms_need_the_session_csrf_token(web: RunningApp) -> None:
    conv = _conversation(web)
    with signed_in(web.url, "ana") as browser:
        token = csrf_from(browser.get(f"/inbox/conversations/{conv}").text)
        path = f"/inbox/conversations/{conv}/notes"
        assert browser.post(path, data={"text": "no token"}).status_code == 403
        assert browser.post(path, data={"text": "bad", "csrf_token": "x" * 32}).status_code == 403
        cross = browser.post(
            path,
            data={"text": "from elsewhere", "csrf_token": token},
            headers={"Origin": "https://evil.example"},
        )
        assert cross.status_code == 403
        assert _notes(web) == 0
        ok = browser.post(path, data={"text": "call her back", "csrf_token": token})
        assert ok.status_code == 303
    assert _notes(web) == 1


def test_the_session_cookie_works_on_the_api_as_that_staff_member(web: RunningApp) -> None:
    conv = _conversation(web)
    with signed_in(web.url, "ana") as browser:
        listed = browser.get("/api/conversations")
        assert listed.status_code == 200 and listed.json()["items"][0]["id"] == conv
        path = f"/api/conversations/{conv}/notes"
        # Unsafe /api calls by cookie need the CSRF header: a cross-site form cannot set it.
        refused = browser.post(path, json={"text": "no header"})
        assert refused.status_code == 401  # signed in, but the write lacks its CSRF header
        assert refused.json()["detail"].startswith("X-CSRF-Token header missing")
        token = csrf_from(browser.get(f"/inbox/conversations/{conv}").text)
        note = browser.post(path, json={"text": "by cookie"}, headers={"X-CSRF-Token": token})
        assert note.status_code == 201
        assert note.json()["author"] == {"type": "staff", "id": "ana", "name": "Ana Ortiz"}


def test_repeated_failed_logins_are_slowed_down(web: RunningApp, clock: FrozenClock) -> None:
    with httpx.Client(base_url=web.url, timeout=10) as browser:

        def attempt(password: str) -> httpx.Response:
            token = csrf_from(browser.get("/login").text)
            return browser.post(
                "/login", data={"username": "ana", "password": password, "csrf_token": token}
            )

        assert attempt("wrong-1").status_code == 401
        assert attempt("wrong-2").status_code == 401
        third = attempt("wrong-3")
        assert third.status_code == 429 and int(third.headers["retry-after"]) >= 1
        # While the account is shut, even the right password is refused, and not checked.
        refused = attempt(PASSWORD)
        assert refused.status_code == 429 and SESSION_COOKIE not in refused.cookies
        clock.advance(timedelta(seconds=3))
        assert attempt("wrong-4").status_code == 429  # the delay doubles with each failure
        clock.advance(timedelta(seconds=5))
        assert attempt(PASSWORD).status_code == 303
    with web.container.db.session() as session:
        row = session.scalar(select(StaffAccountRow).where(StaffAccountRow.login == "ana"))
        assert row is not None and row.failed_logins == 0


def test_unknown_logins_from_one_address_are_slowed_down_too(web: RunningApp) -> None:
    with httpx.Client(base_url=web.url, timeout=10) as browser:
        statuses = []
        for n in range(22):
            token = csrf_from(browser.get("/login").text)
            statuses.append(
                browser.post(
                    "/login",
                    data={"username": f"nobody{n}", "password": "x", "csrf_token": token},
                ).status_code
            )
        assert statuses[:20] == [401] * 20 and statuses[20:] == [429, 429]


def test_logout_ends_the_session(web: RunningApp) -> None:
    with signed_in(web.url, "ana") as browser:
        token = csrf_from(browser.get("/inbox").text)
        assert browser.post("/logout").status_code == 403  # no token: not even a logout
        assert browser.get("/inbox").status_code == 200
        out = browser.post("/logout", data={"csrf_token": token})
        assert out.status_code == 303 and out.headers["location"] == "/login"
        assert SESSION_COOKIE not in browser.cookies
        assert browser.get("/inbox").headers["location"].startswith("/login")
        assert browser.get("/api/conversations").status_code == 401


def test_a_new_password_ends_existing_sessions(web: RunningApp) -> None:
    with signed_in(web.url, "ana") as browser:
        assert browser.get("/inbox").status_code == 200
        with web.container.db.session() as session:
            ended = StaffAccounts(StaffAccountRepository(session)).set_password(
                "ana", "a brand new password", web.container.clock.now()
            )
            session.commit()
        assert ended == 1
        assert browser.get("/inbox").status_code == 303
    with signed_in(web.url, "ana", "a brand new password") as browser:
        assert browser.get("/inbox").status_code == 200


def test_only_admin_accounts_change_who_is_on_call(web: RunningApp) -> None:
    form = {
        "rotation": "leadership",
        "staff": "ana",
        "start": "2026-12-08T09:00",
        "end": "2026-12-08T17:00",
    }
    with signed_in(web.url, "ana") as staff:
        token = csrf_from(staff.get("/inbox/oncall").text)
        refused = staff.post("/inbox/overrides", data={**form, "csrf_token": token})
        assert refused.status_code == 403 and "Only admin accounts" in refused.text
    with signed_in(web.url, "jim") as admin:
        page = admin.get("/inbox/oncall")
        assert "Add an override" in page.text
        added = admin.post("/inbox/overrides", data={**form, "csrf_token": csrf_from(page.text)})
        assert added.status_code == 303
    with web.api() as api:
        items = api.get("/api/overrides").json()["items"]
    assert [(o["staff"], o["start"], o["created_by"]) for o in items] == [
        ("ana", "2026-12-08T14:00:00+00:00", "jim")
    ]


def test_users_add_creates_a_login_with_an_argon2_hash(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("PARTNERLINE_CONFIG", str(EXAMPLE_CONFIG))
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    args = argparse.Namespace(
        login="kim", staff="kim", admin=True, password_stdin=True, config=None
    )
    assert cmd_users_add(args) == 0
    db = Database(db_url)
    try:
        with db.session() as session:
            row = StaffAccountRepository(session).by_login("kim")
            assert row is not None and row.is_admin and row.staff_id == "kim"
            assert row.password_hash.startswith("$argon2id$")
            assert "a long enough password" not in row.password_hash
            now = datetime.now(ZoneInfo("UTC"))
            accounts = StaffAccounts(StaffAccountRepository(session))
            assert accounts.sign_in("kim", "a long enough password", now).account
            assert accounts.sign_in("kim", "wrong", now).account is None
    finally:
        db.dispose()
    from bot.cli.common import CliError

    monkeypatch.setattr("sys.stdin", io.StringIO("another password\n"))
    unknown = argparse.Namespace(
        login="zed", staff="zed", admin=False, password_stdin=True, config=None
    )
    with pytest.raises(CliError, match="no staff member 'zed'"):
        cmd_users_add(unknown)


def test_without_a_secret_key_sqlite_keeps_a_generated_one_beside_the_database(
    tmp_path: Path,
) -> None:
    settings = Settings(DATABASE_URL=f"sqlite:///{tmp_path / 'partnerline.db'}")
    first = session_secret(settings)
    path = tmp_path / SECRET_FILE
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert session_secret(settings) == first and len(first) >= 32
    with pytest.raises(RuntimeError):
        session_secret(Settings(DATABASE_URL="postgresql://x@127.0.0.1/none"))
