"""The inbox session: a server-side session, its CSRF token, and who it makes the caller.

The cookie holds only an opaque random token (storage/sessions.py keeps its SHA-256, the
account, the CSRF token and the expiry); nothing in it is derived from the password or readable.
Each request looks the session and the account up again, so a revoked session (sign-out, a
new password, `partnerline users revoke LOGIN`) or a deleted account is refused at once, and
a copied cookie stops working when its session ends.

CSRF: every unsafe request authenticated by the cookie must carry the session's token, as the
form field `csrf_token` or the `X-CSRF-Token` header (htmx sends it), and a cross-site `Origin`
is refused outright. The login form, before any session, uses a signed double-submit cookie.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Request

from bot.container import Container
from bot.settings import Settings
from bot.usecases.accounts import Account, StaffAccounts
from bot.usecases.services import Author
from storage.accounts import StaffAccountRepository
from storage.db import sqlite_file
from storage.sessions import StaffSessions

log = logging.getLogger(__name__)

SESSION_COOKIE = "partnerline_session"
LOGIN_CSRF_COOKIE = "partnerline_login_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SESSION_MAX_AGE = 12 * 3600  # a working day; then sign in again
SECRET_FILE = "partnerline.secret"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True, slots=True)
class Staff:
    """A signed-in staff member, as the inbox and /api see them."""

    author: Author
    account_id: int
    is_admin: bool
    csrf: str
    session_id: int
    # The zone the inbox shows this person's times in: their profile's, else the agency's.
    zone: ZoneInfo
    login: str = ""  # the account's (several logins may act as one staff member)


# ---------------------------------------------------------------------- the secret


def session_secret(settings: Settings) -> bytes:
    """PARTNERLINE_SECRET_KEY; on SQLite without it, a random key kept beside the database."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode()
    if not settings.is_sqlite:
        raise RuntimeError("PARTNERLINE_SECRET_KEY must be set outside `serve` on SQLite")
    database = sqlite_file(settings.database_url)
    if database is None:
        return secrets.token_bytes(32)  # nothing to keep it beside; sessions end with the process
    path = Path(database).resolve().parent / SECRET_FILE
    return _read_or_create_secret(path)


def _read_or_create_secret(path: Path) -> bytes:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        value = path.read_text().strip()
    else:
        value = secrets.token_urlsafe(48)
        with os.fdopen(fd, "w") as f:
            f.write(value + "\n")
        log.info("generated a session secret in %s (set PARTNERLINE_SECRET_KEY instead)", path)
    if len(value) < 32:
        raise RuntimeError(f"{path} holds no usable secret; delete it to make a new one")
    return value.encode()


# ---------------------------------------------------------------------- signing


class Signer:
    """`payload.signature`, both URL-safe base64; a purpose string keeps uses apart."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _mac(self, purpose: str, body: bytes) -> bytes:
        return hmac.new(self._secret, purpose.encode() + b"\0" + body, hashlib.sha256).digest()

    def dumps(self, purpose: str, data: dict[str, Any]) -> str:
        body = _b64(json.dumps(data, separators=(",", ":")).encode())
        return body + "." + _b64(self._mac(purpose, body.encode()))

    def loads(self, purpose: str, value: str | None) -> dict[str, Any] | None:
        if not value or value.count(".") != 1:
            return None
        body, mac = value.split(".")
        try:
            given = _unb64(mac)
            data = json.loads(_unb64(body))
        except (ValueError, UnicodeDecodeError):
            return None
        if not hmac.compare_digest(given, self._mac(purpose, body.encode())):
            return None
        return data if isinstance(data, dict) else None


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def signer_for(request: Request) -> Signer:
    """One signer per app, made on first use (the secret file is read once)."""
    signer: Signer | None = getattr(request.app.state, "web_signer", None)
    if signer is None:
        container: Container = request.app.state.container
        signer = Signer(session_secret(container.settings))
        request.app.state.web_signer = signer
    return signer


# ---------------------------------------------------------------------- sessions


def new_session(container: Container, account: Account) -> str:
    """Opens a session for the account; the token to put in the cookie. Synchronous (DB)."""
    with container.db.session() as session:
        token, _ = StaffSessions(session).create(
            account.id, container.clock.now(), timedelta(seconds=SESSION_MAX_AGE)
        )
        session.commit()
    return token


def end_session(container: Container, staff: Staff) -> None:
    """Sign-out: the session is revoked, so a copy of the cookie opens nothing."""
    with container.db.session() as session:
        StaffSessions(session).revoke(staff.session_id, container.clock.now())
        session.commit()


def cookie_secure(request: Request, settings: Settings) -> bool:
    """Secure behind HTTPS: the request's own scheme, or a PUBLIC_URL that says https."""
    return request.url.scheme == "https" or (settings.public_url or "").startswith("https:")


def staff_from_session(request: Request, container: Container) -> Staff | None:
    """The signed-in staff member of this request's cookie, or None. Synchronous (DB)."""
    cached: Staff | None = request.scope.get("partnerline.staff")
    if cached is not None:
        return cached
    token = request.cookies.get(SESSION_COOKIE)
    if not token or len(token) > 100:
        return None
    with container.db.session() as session:
        live = StaffSessions(session).live(token, container.clock.now())
        accounts = StaffAccounts(StaffAccountRepository(session))
        account = None if live is None else accounts.get(live.account_id)
        session.commit()  # last_seen_at
    if live is None or account is None:
        return None
    name = container.services.staff_names.get(account.staff_id, account.staff_id)
    staff = Staff(
        author=Author(id=account.staff_id, name=name),
        account_id=account.id,
        is_admin=account.is_admin,
        csrf=live.csrf_token,
        session_id=live.id,
        login=account.login,
        zone=_zone(account.timezone, container.directory.zone),
    )
    request.scope["partnerline.staff"] = staff
    return staff


def _zone(name: str | None, agency: ZoneInfo) -> ZoneInfo:
    """The login's chosen zone; the agency's when it chose none (or tzdata no longer has it)."""
    if name is None:
        return agency
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return agency


# ---------------------------------------------------------------------- CSRF


def same_origin(request: Request) -> bool:
    """False when the browser says the request comes from another site."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        fetch_site = request.headers.get("sec-fetch-site")
        return fetch_site in (None, "same-origin", "none") and origin != "null"
    host = request.headers.get("host", "")
    container: Container = request.app.state.container
    public = urlsplit(container.settings.public_url or "").netloc
    return urlsplit(origin).netloc in {host, public} - {""}


def csrf_ok(request: Request, expected: str, submitted: str | None) -> bool:
    """The submitted token (form field or header) equals the expected one, from this site."""
    token = submitted or request.headers.get(CSRF_HEADER)
    if not token:
        return False
    return same_origin(request) and hmac.compare_digest(token, expected)


def login_csrf(request: Request) -> tuple[str, str]:
    """(token for the form, cookie value): a fresh pair unless the browser holds a valid one."""
    signer = signer_for(request)
    data = signer.loads("login-csrf", request.cookies.get(LOGIN_CSRF_COOKIE))
    if data is not None and isinstance(data.get("c"), str):
        return data["c"], request.cookies[LOGIN_CSRF_COOKIE]
    token = secrets.token_urlsafe(24)
    return token, signer.dumps("login-csrf", {"c": token})


def login_csrf_ok(request: Request, submitted: str | None) -> bool:
    data = signer_for(request).loads("login-csrf", request.cookies.get(LOGIN_CSRF_COOKIE))
    if data is None or not isinstance(data.get("c"), str):
        return False
    return csrf_ok(request, data["c"], submitted)


CSRF_MISSING = (
    "X-CSRF-Token header missing: a write to /api with an inbox session needs the session's "
    "CSRF token in that header (or use the admin bearer token)."
)
CSRF_WRONG = "X-CSRF-Token header does not match this session, or the request came from elsewhere."


def api_csrf_problem(request: Request, staff: Staff) -> str | None:
    """For /api by cookie: why an unsafe request is refused (no or a wrong CSRF header), or
    None. A cross-site form cannot set the header, so the session alone never writes."""
    if request.method not in UNSAFE_METHODS or csrf_ok(request, staff.csrf, None):
        return None
    return CSRF_WRONG if request.headers.get(CSRF_HEADER) else CSRF_MISSING
