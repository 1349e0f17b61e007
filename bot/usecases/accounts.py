"""Web-inbox logins: argon2 password hashes, sign-in throttling, `partnerline users add|revoke`.

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

import argparse
import getpass
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.sessions import StaffSessions
from storage.tables import StaffAccountRow

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


@dataclass(frozen=True, slots=True)
class SignIn:
    """The outcome of one attempt: an account, or why not (and for how long, if throttled)."""

    account: Account | None
    retry_after: timedelta | None = None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _account(row: StaffAccountRow) -> Account:
    return Account(
        id=row.id,
        login=row.login,
        staff_id=row.staff_id,
        is_admin=row.is_admin,
    )


def throttle_delay(failures: int) -> timedelta:
    """How long an account stays shut, to addresses that failed on it, after `failures`
    failures in a row."""
    if failures < FREE_FAILURES:
        return timedelta(0)
    delay = BASE_DELAY * (2 ** (failures - FREE_FAILURES))
    return min(delay, MAX_DELAY)


class StaffAccounts:
    """The staff_accounts table, inside the caller's transaction (it never commits)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(
        self, login: str, staff_id: str, password: str, *, is_admin: bool, now: datetime
    ) -> Account:
        if len(password) < MIN_PASSWORD:
            raise ValueError(f"the password must have at least {MIN_PASSWORD} characters")
        if self.by_login(login) is not None:
            raise ValueError(f"there is already a login {login!r}")
        row = StaffAccountRow(
            login=login,
            staff_id=staff_id,
            password_hash=hash_password(password),
            is_admin=is_admin,
            failed_logins=0,
            created_at=now,
        )
        self.session.add(row)
        self.session.flush()
        return _account(row)

    def by_login(self, login: str) -> StaffAccountRow | None:
        return self.session.execute(
            select(StaffAccountRow).where(StaffAccountRow.login == login)
        ).scalar_one_or_none()

    def get(self, account_id: int) -> Account | None:
        row = self.session.get(StaffAccountRow, account_id)
        return None if row is None else _account(row)

    def sign_in(
        self, login: str, password: str, now: datetime, *, fresh_address: bool = False
    ) -> SignIn:
        """Check a password, counting failures; the caller commits either way.

        `fresh_address`: the caller's address has not failed on this login lately
        (`AddressThrottle.fresh`), so a shut account still checks its password (module doc)."""
        row = self.session.execute(
            select(StaffAccountRow).where(StaffAccountRow.login == login).with_for_update()
        ).scalar_one_or_none()
        if row is None:
            _verify(_DUMMY_HASH, password)
            return SignIn(None)
        if row.last_failed_at is not None and not fresh_address:
            shut_until = row.last_failed_at + throttle_delay(row.failed_logins)
            if now < shut_until:
                return SignIn(None, retry_after=shut_until - now)
        if not _verify(row.password_hash, password):
            row.failed_logins += 1
            row.last_failed_at = now
            delay = throttle_delay(row.failed_logins)
            return SignIn(None, retry_after=delay if delay else None)
        row.failed_logins = 0
        row.last_failed_at = None
        if _hasher.check_needs_rehash(row.password_hash):
            row.password_hash = hash_password(password)
        return SignIn(_account(row))

    def set_password(self, login: str, password: str, now: datetime) -> int:
        """A new password; every session of the login ends. How many sessions were live."""
        if len(password) < MIN_PASSWORD:
            raise ValueError(f"the password must have at least {MIN_PASSWORD} characters")
        row = self.by_login(login)
        if row is None:
            raise ValueError(f"there is no login {login!r}")
        row.password_hash = hash_password(password)
        row.failed_logins = 0
        row.last_failed_at = None
        return StaffSessions(self.session).revoke_all(row.id, now)

    def revoke_sessions(self, login: str, now: datetime) -> int:
        """Ends every session of the login; how many were live."""
        row = self.by_login(login)
        if row is None:
            raise ValueError(f"there is no login {login!r}")
        return StaffSessions(self.session).revoke_all(row.id, now)


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


# ---------------------------------------------------------------------- the command


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise ValueError("the two passwords differ")
    return first


def cmd_users_add(args: argparse.Namespace) -> int:
    """`partnerline users add LOGIN --staff ID [--admin] [--password-stdin]`."""
    from bot.cli import CliError, _config_path, _load, _require_migrated
    from bot.settings import Settings
    from routing.clock import SystemClock
    from storage.db import Database
    from storage.migrate import upgrade

    settings = Settings()
    config = _load(args, settings)
    staff = {s.id: s for s in config.staff}
    if args.staff not in staff:
        known = ", ".join(sorted(staff)) or "none"
        raise CliError(
            f"{_config_path(args, settings)}: no staff member {args.staff!r} (staff: {known})"
        )
    login = args.login.strip()
    if not login or len(login) > 100:
        raise CliError("LOGIN must have 1 to 100 characters")
    try:
        password = _read_password(args.password_stdin)
    except (ValueError, EOFError) as exc:
        raise CliError(str(exc) or "no password given") from exc
    if settings.is_sqlite:
        upgrade(settings.database_url)
    else:
        _require_migrated(settings)
    db = Database(settings.database_url)
    try:
        with db.session() as session:
            try:
                account = StaffAccounts(session).add(
                    login, args.staff, password, is_admin=args.admin, now=SystemClock().now()
                )
            except ValueError as exc:
                raise CliError(str(exc)) from exc
            session.commit()
    finally:
        db.dispose()
    role = "admin" if account.is_admin else "staff"
    print(f"login {account.login!r} created for {staff[args.staff].name} ({role})")
    return 0


def cmd_users_revoke(args: argparse.Namespace) -> int:
    """`partnerline users revoke LOGIN`: ends every session of that login."""
    from bot.cli import CliError, _require_migrated
    from bot.settings import Settings
    from routing.clock import SystemClock
    from storage.db import Database

    settings = Settings()
    _require_migrated(settings)
    db = Database(settings.database_url)
    try:
        with db.session() as session:
            try:
                ended = StaffAccounts(session).revoke_sessions(args.login, SystemClock().now())
            except ValueError as exc:
                raise CliError(str(exc)) from exc
            session.commit()
    finally:
        db.dispose()
    print(f"login {args.login!r}: {ended} session{'' if ended == 1 else 's'} ended")
    return 0


def add_users_arguments(users: argparse.ArgumentParser) -> None:
    """The `users` command group; the caller sets nothing else."""
    sub = users.add_subparsers(dest="users_command", required=True)
    add = sub.add_parser("add", help="create a web-inbox login for a staff member")
    add.add_argument("login", metavar="LOGIN")
    add.add_argument("--staff", required=True, metavar="ID", help="the staff member's id")
    add.add_argument("--admin", action="store_true", help="give the login admin rights")
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from one line of stdin"
    )
    add.add_argument("--config", help="configuration file (default $PARTNERLINE_CONFIG)")
    add.set_defaults(func=cmd_users_add)
    revoke = sub.add_parser("revoke", help="end every session of a login")
    revoke.add_argument("login", metavar="LOGIN")
    revoke.set_defaults(func=cmd_users_revoke)
