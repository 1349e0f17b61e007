"""Sign-in throttling slows guessing but cannot lock the owner out (the rule:
bot/usecases/accounts.py).

Addresses are told apart by X-Forwarded-For, which uvicorn trusts from 127.0.0.1 (its
default `forwarded_allow_ips`), as behind the platform's proxy. The account rule is also
driven through the repository with the clock injected, and the address rule through
AddressThrottle with a fake clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import pytest

from adapters.standins.twilio import TwilioStandIn
from bot.http.sessions import SESSION_COOKIE
from bot.usecases.accounts import (
    ADDRESS_LIMIT,
    ADDRESS_WINDOW,
    FREE_FAILURES,
    MAX_DELAY,
    AddressThrottle,
    StaffAccounts,
)
from routing.clock import FrozenClock
from storage.accounts import StaffAccountRepository
from storage.db import Database
from tests.browser.inbox_support import PASSWORD, add_login, csrf_from, inbox_app
from tests.e2e.test_web_auth import MONDAY_MORNING
from tests.support.app import RunningApp

ATTACKER, OWNER = "203.0.113.9", "198.51.100.7"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(MONDAY_MORNING)


@pytest.fixture
def web(db_url: str, twilio: TwilioStandIn, clock: FrozenClock) -> Iterator[RunningApp]:
    with inbox_app(db_url, twilio.url, clock=clock) as running:
        add_login(running.container, "ana", "ana")
        yield running


def _attempt(web: RunningApp, address: str, password: str, login: str = "ana") -> httpx.Response:
    with httpx.Client(
        base_url=web.url, timeout=10, headers={"X-Forwarded-For": address}
    ) as browser:
        token = csrf_from(browser.get("/login").text)
        return browser.post(
            "/login", data={"username": login, "password": password, "csrf_token": token}
        )


def test_an_attacker_at_one_address_cannot_keep_the_owner_out(web: RunningApp) -> None:
    statuses = [_attempt(web, ATTACKER, f"guess-{n}").status_code for n in range(25)]
    assert statuses[: FREE_FAILURES - 1] == [401] * (FREE_FAILURES - 1)
    assert set(statuses[FREE_FAILURES - 1 :]) == {429}  # the attacker's address is shut out
    # Even the right password is refused there: the attacker learns nothing from it.
    refused = _attempt(web, ATTACKER, PASSWORD)
    assert refused.status_code == 429 and SESSION_COOKIE not in refused.cookies
    # The owner, elsewhere, signs in at once with the right password.
    owner = _attempt(web, OWNER, PASSWORD)
    assert owner.status_code == 303 and SESSION_COOKIE in owner.cookies


def test_while_the_account_is_shut_each_fresh_address_gets_one_guess(web: RunningApp) -> None:
    for n in range(FREE_FAILURES):
        _attempt(web, ATTACKER, f"guess-{n}")
    second = [_attempt(web, "192.0.2.1", f"other-{n}").status_code for n in range(3)]
    assert second == [429, 429, 429]  # checked once (wrong), then shut out like the first
    assert _attempt(web, "192.0.2.2", PASSWORD).status_code == 303


def test_many_logins_from_one_address_are_refused_for_that_address_only(
    web: RunningApp,
) -> None:
    statuses = [
        _attempt(web, ATTACKER, "x", login=f"nobody{n}").status_code
        for n in range(ADDRESS_LIMIT + 2)
    ]
    assert statuses[:ADDRESS_LIMIT] == [401] * ADDRESS_LIMIT
    assert statuses[ADDRESS_LIMIT:] == [429, 429]
    assert _attempt(web, ATTACKER, PASSWORD).status_code == 429
    assert _attempt(web, OWNER, PASSWORD).status_code == 303


def test_the_account_rule_with_the_clock_injected(database: Database) -> None:
    now = datetime(2026, 12, 7, 15, 0, tzinfo=MONDAY_MORNING.tzinfo)
    with database.session() as session:
        accounts = StaffAccounts(StaffAccountRepository(session))
        accounts.add("ana", "ana", PASSWORD, is_admin=False, now=now)
        for n in range(FREE_FAILURES + 4):
            accounts.sign_in("ana", f"wrong-{n}", now, fresh_address=True)
        # Shut to addresses that failed on it, whatever the password, for at most MAX_DELAY.
        shut = accounts.sign_in("ana", PASSWORD, now)
        assert shut.account is None and shut.retry_after is not None
        assert timedelta(0) < shut.retry_after <= MAX_DELAY
        later = now + shut.retry_after
        assert accounts.sign_in("ana", PASSWORD, later).account is not None
        # A fresh address is checked at once, and its right password lifts the shut.
        for n in range(FREE_FAILURES + 4):
            accounts.sign_in("ana", f"wrong-{n}", later, fresh_address=True)
        assert accounts.sign_in("ana", PASSWORD, later).account is None
        assert accounts.sign_in("ana", PASSWORD, later, fresh_address=True).account is not None
        assert accounts.sign_in("ana", PASSWORD, later).account is not None  # lifted for all
        session.rollback()


def test_the_address_rule_with_the_clock_injected() -> None:
    now = [1000.0]
    throttle = AddressThrottle(limit=3, window=60.0, clock=lambda: now[0])
    assert throttle.fresh("a", "ana") and throttle.wait("a") == 0
    throttle.failed("a", "ana")
    assert not throttle.fresh("a", "ana")
    assert throttle.fresh("b", "ana") and throttle.fresh("a", "jim")
    throttle.failed("a", "jim")
    throttle.failed("a", "kim")
    assert throttle.wait("a") == pytest.approx(60.0) and throttle.wait("b") == 0
    now[0] += 30
    assert throttle.wait("a") == pytest.approx(30.0) and not throttle.fresh("a", "ana")
    now[0] += 30
    assert throttle.wait("a") == 0 and throttle.fresh("a", "ana")


def test_the_address_rule_keeps_its_memory_bounded() -> None:
    now = [0.0]
    throttle = AddressThrottle(limit=3, window=ADDRESS_WINDOW, clock=lambda: now[0], max_keys=50)
    for n in range(50):
        throttle.failed(f"10.0.0.{n}", "ana")
    now[0] += ADDRESS_WINDOW + 1
    for n in range(50, 100):
        throttle.failed(f"10.0.1.{n}", "ana")
    assert len(throttle._failures) <= 51 and len(throttle._last_on_login) <= 51
