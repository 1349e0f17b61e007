"""Web-inbox logins: argon2 password hashes and sign-in throttling.

The queries are in storage/accounts.py, the `partnerline users add|revoke` command in
bot/cli/users.py.

A login belongs to one staff member of the configuration. Sign-in throttling has two rules,
made so that guessing is slowed but nobody who knows only a login name can keep its owner out:

- Per address (`AddressThrottle`, in each web process): an address with `ADDRESS_LIMIT` failed
  sign-ins in the last `ADDRESS_WINDOW` (whatever logins it tried) is refused, 429, until its
  failures age out. Only that address is refused.
- Per account (the staff_accounts row, shared by every process): from the `FREE_FAILURES`th
  failure in a row the account is shut for a delay that doubles with each failure (from
  `BASE_DELAY` up to `MAX_DELAY`) after the last one; but the shut holds only against
  addresses that have failed on that login in the last `ADDRESS_WINDOW`. From any other
  address the password is checked: the right one signs in and lifts the shut (the count
  starts again), a wrong one counts as a failure and that address is shut out in turn.

So an attacker gets one guess per fresh address while the account is shut, and the owner,
from an address that has not failed on the login (or once its own typos are
`ADDRESS_WINDOW` old), always gets in with the right password.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from zoneinfo import available_timezones

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from storage.accounts import StaffAccountRepository, StoredAccount

FREE_FAILURES = 3
BASE_DELAY = timedelta(seconds=2)
MAX_DELAY = timedelta(minutes=15)
ADDRESS_LIMIT = 20
ADDRESS_WINDOW = 600.0  # seconds
MIN_PASSWORD = 8

_hasher = PasswordHasher()
# Verified when the login is unknown, so that an unknown login costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("partnerline-no-such-account")


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    login: str
    staff_id: str
    is_admin: bool
    timezone: str | None = None  # the zone the inbox shows times in; None: the agency's


@dataclass(frozen=True, slots=True)
class SignIn:
    """The outcome of one attempt: an account, or why not (and for how long, if throttled)."""

    account: Account | None
    retry_after: timedelta | None = None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _account(row: StoredAccount) -> Account:
    return Account(
        id=row.id,
        login=row.login,
        staff_id=row.staff_id,
        is_admin=row.is_admin,
        timezone=row.timezone,
    )


# The areas of the IANA zones a person lives in; the rest are aliases kept for old systems
# ("US/Eastern", "EST5EDT") that would only lengthen the list.
_AREAS = frozenset(
    [
        "Africa",
        "America",
        "Antarctica",
        "Arctic",
        "Asia",
        "Atlantic",
        "Australia",
        "Europe",
        "Indian",
        "Pacific",
    ]
)


@cache
def zone_names() -> tuple[str, ...]:
    """The zones a login may choose, sorted: "UTC" and every Area/Location name."""
    names = {n for n in available_timezones() if n.split("/")[0] in _AREAS and "/" in n}
    return ("UTC", *sorted(names))


def throttle_delay(failures: int) -> timedelta:
    """How long an account stays shut, to addresses that failed on it, after `failures`
    failures in a row."""
    if failures < FREE_FAILURES:
        return timedelta(0)
    delay = BASE_DELAY * (2 ** (failures - FREE_FAILURES))
    return min(delay, MAX_DELAY)


class StaffAccounts:
    """The rules for logins, over the repository and so inside its transaction (it never
    commits)."""

    def __init__(self, accounts: StaffAccountRepository) -> None:
        self.accounts = accounts

    def add(
        self, login: str, staff_id: str, password: str, *, is_admin: bool, now: datetime
    ) -> Account:
        if len(password) < MIN_PASSWORD:
            raise ValueError(f"the password must have at least {MIN_PASSWORD} characters")
        if self.accounts.by_login(login) is not None:
            raise ValueError(f"there is already a login {login!r}")
        row = self.accounts.add(
            login, staff_id, hash_password(password), is_admin=is_admin, now=now
        )
        return _account(row)

    def get(self, account_id: int) -> Account | None:
        row = self.accounts.get(account_id)
        return None if row is None else _account(row)

    def sign_in(
        self, login: str, password: str, now: datetime, *, fresh_address: bool = False
    ) -> SignIn:
        """Check a password, counting failures; the caller commits either way.

        `fresh_address`: the caller's address has not failed on this login lately
        (`AddressThrottle.fresh`), so a shut account still checks its password (module doc)."""
        row = self.accounts.by_login(login, lock=True)
        if row is None:
            _verify(_DUMMY_HASH, password)
            return SignIn(None)
        if row.last_failed_at is not None and not fresh_address:
            shut_until = row.last_failed_at + throttle_delay(row.failed_logins)
            if now < shut_until:
                return SignIn(None, retry_after=shut_until - now)
        if not _verify(row.password_hash, password):
            failures = row.failed_logins + 1
            self.accounts.record_failure(row.id, failures, now)
            delay = throttle_delay(failures)
            return SignIn(None, retry_after=delay if delay else None)
        rehash = _hasher.check_needs_rehash(row.password_hash)
        self.accounts.record_success(row.id, hash_password(password) if rehash else None)
        return SignIn(_account(row))

    def set_password(self, login: str, password: str, now: datetime) -> int:
        """A new password; every session of the login ends. How many sessions were live."""
        if len(password) < MIN_PASSWORD:
            raise ValueError(f"the password must have at least {MIN_PASSWORD} characters")
        row = self.accounts.by_login(login)
        if row is None:
            raise ValueError(f"there is no login {login!r}")
        self.accounts.set_password_hash(row.id, hash_password(password))
        return self.accounts.end_sessions(row.id, now)

    def set_timezone(self, account_id: int, timezone: str | None) -> None:
        """The zone the inbox shows this login's times in: one of `zone_names()`, or None
        for the agency's."""
        if timezone is not None and timezone not in zone_names():
            raise ValueError(f"{timezone!r} is not a time zone; choose one from the list")
        if self.accounts.get(account_id) is None:
            raise ValueError(f"there is no staff account {account_id}")
        self.accounts.set_timezone(account_id, timezone)

    def revoke_sessions(self, login: str, now: datetime) -> int:
        """Ends every session of the login; how many were live."""
        row = self.accounts.by_login(login)
        if row is None:
            raise ValueError(f"there is no login {login!r}")
        return self.accounts.end_sessions(row.id, now)


class AddressThrottle:
    """Failed sign-ins per client address, in this process (the module doc states the rule).

    The per-account shut cannot slow someone who tries many logins; this does, and it tells
    the account rule which addresses have failed on which login. Memory stays bounded under a
    spray of addresses: past `max_keys`, entries with nothing recent are dropped.
    """

    def __init__(
        self,
        limit: int = ADDRESS_LIMIT,
        window: float = ADDRESS_WINDOW,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 10_000,
    ) -> None:
        self.limit, self.window, self.max_keys = limit, window, max_keys
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._last_on_login: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def _recent(self, address: str, now: float) -> deque[float]:
        times = self._failures.setdefault(address, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def wait(self, address: str) -> float:
        """Seconds this address must wait, 0 if it may try now."""
        now = self._clock()
        with self._lock:
            times = self._recent(address, now)
            if len(times) < self.limit:
                return 0.0
            return times[-self.limit] + self.window - now

    def fresh(self, address: str, login: str) -> bool:
        """True unless this address failed on this login within the window."""
        now = self._clock()
        with self._lock:
            last = self._last_on_login.get((address, login))
            return last is None or last <= now - self.window

    def failed(self, address: str, login: str) -> None:
        now = self._clock()
        with self._lock:
            self._recent(address, now).append(now)
            self._last_on_login[(address, login)] = now
            if len(self._failures) > self.max_keys:
                for key in [k for k, v in self._failures.items() if not self._recent(k, now)]:
                    del self._failures[key]
            if len(self._last_on_login) > self.max_keys:
                old = now - self.window
                for pair in [p for p, t in self._last_on_login.items() if t <= old]:
                    del self._last_on_login[pair]


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
