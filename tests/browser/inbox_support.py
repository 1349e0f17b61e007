"""The real app with the web inbox on loopback, and staff logins, for the inbox tests."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from adapters.standins.server import LoopbackServer
from bot.bootstrap import build_container, create_app
from bot.config import load_config
from bot.container import Container
from bot.usecases.accounts import StaffAccounts
from routing.clock import Clock
from storage.accounts import StaffAccountRepository
from tests.support.app import (
    EXAMPLE_CONFIG,
    LOOPBACK_TLS,
    RunningApp,
    app_settings,
    free_port,
    running_app,
)

PASSWORD = "correct horse battery"


@contextmanager
def inbox_app(
    db_url: str, twilio_url: str, *, clock: Clock | None = None, **overrides: Any
) -> Iterator[RunningApp]:
    with running_app(db_url, twilio_url, clock=clock, **overrides) as app:
        yield app


def add_login(
    container: Container,
    login: str,
    staff_id: str,
    *,
    admin: bool = False,
    password: str = PASSWORD,
) -> None:
    with container.db.session() as session:
        StaffAccounts(StaffAccountRepository(session)).add(
            login, staff_id, password, is_admin=admin, now=container.clock.now()
        )
        session.commit()


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF field"
    return match.group(1)


@contextmanager
def signed_in(base_url: str, login: str, password: str = PASSWORD) -> Iterator[httpx.Client]:
    """An HTTP client holding a session, as a browser would after the login form."""
    with httpx.Client(base_url=base_url, timeout=10, verify=LOOPBACK_TLS) as client:
        form = client.get("/login")
        response = client.post(
            "/login",
            data={"username": login, "password": password, "csrf_token": csrf_from(form.text)},
        )
        assert response.status_code == 303, response.text
        yield client


@contextmanager
def sandbox_app(db_url: str, *, clock: Clock | None = None) -> Iterator[tuple[RunningApp, Any]]:
    """The app as `partnerline serve --sandbox` runs it: channels pointed at local stand-ins."""
    from bot.http.web.sandbox import Sandbox

    config = load_config(EXAMPLE_CONFIG)
    sandbox = Sandbox(config).start()
    port = free_port()
    public_url = f"http://127.0.0.1:{port}"
    overrides: dict[str, Any] = dict(sandbox.settings_overrides(public_url))
    twilio_url = overrides.pop("TWILIO_API_URL")
    overrides.pop("PUBLIC_URL")
    settings = app_settings(db_url, twilio_url, public_url, **overrides)
    container = build_container(settings, config, clock=clock)
    app = create_app(container, run_worker=True, sandbox=sandbox)
    server = LoopbackServer(app, port=port, lifespan="on")
    server.start()
    try:
        yield RunningApp(container, server, public_url), sandbox
    finally:
        server.stop()
        sandbox.stop()
        container.db.dispose()
