"""Playwright driving Debian's Chromium (never a downloaded browser): `browser` per session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.standins.twilio import TwilioStandIn
from tests.support.app import ACCOUNT_SID, AUTH_TOKEN

CHROMIUM = Path(os.environ.get("PARTNERLINE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def twilio_server() -> Iterator[TwilioStandIn]:
    with TwilioStandIn(ACCOUNT_SID, AUTH_TOKEN) as standin:
        yield standin


@pytest.fixture
def twilio(twilio_server: TwilioStandIn) -> TwilioStandIn:
    twilio_server.reset()
    return twilio_server


# One browser per test, not per session: while Playwright's sync API is open it runs an event
# loop in this thread, and any later test of this worker that calls asyncio.run would fail.
@pytest.fixture
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        if os.environ.get("PARTNERLINE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"PARTNERLINE_REQUIRE_BROWSER=1 but there is no Chromium at {CHROMIUM}")
        pytest.skip(f"browser tests skipped: no Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("browser tests skipped: the playwright package is not installed")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


TIMEOUT = 10_000  # ms, for anything that must appear without a reload


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    """A desktop-sized browser context whose clock reads the agency's zone (Detroit)."""
    context = browser.new_context(
        viewport={"width": 1100, "height": 760}, timezone_id="America/Detroit", locale="en-US"
    )
    context.set_default_timeout(TIMEOUT)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def page(context: Any) -> Any:
    return context.new_page()
