"""The Reports page in Chromium: a day made through webhooks and the API (the story of
tests/e2e/test_reports_api.py), its headline figures, the chart drawn on the server, the
per-client and per-person tables, a drill-down into the inbox, and the page at 375 px.
Screenshots go to docs/screenshots/ when PARTNERLINE_SCREENSHOTS=docs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.standins.twilio import TwilioStandIn
from routing.clock import FrozenClock
from tests.browser.conftest import TIMEOUT
from tests.browser.inbox_support import add_login, inbox_app
from tests.browser.test_inbox_browser import save, sign_in
from tests.e2e.test_reports_api import MONDAY, make_day
from tests.support.app import RunningApp

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.parametrize("db_url", ["sqlite"], indirect=True),
]
PERIOD = "/inbox/reports?from=2026-12-07&to=2026-12-07&zone=America/Detroit"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(MONDAY)


@pytest.fixture
def web(db_url: str, twilio: TwilioStandIn, clock: FrozenClock) -> Iterator[RunningApp]:
    with inbox_app(db_url, twilio.url, clock=clock) as running:
        add_login(running.container, "jim", "jim", admin=True)
        add_login(running.container, "ana", "ana")
        make_day(running, clock)
        yield running


def open_page(browser: Any, web: RunningApp, width: int, height: int) -> Any:
    context = browser.new_context(
        viewport={"width": width, "height": height}, timezone_id="America/Detroit", locale="en-US"
    )
    context.set_default_timeout(TIMEOUT)
    page = context.new_page()
    sign_in(page, web)
    page.goto(web.url + PERIOD)
    return page


def test_the_reports_page_and_its_drill_down(browser: Any, web: RunningApp, tmp_path: Path) -> None:
    page = open_page(browser, web, 1100, 1400)
    assert page.get_by_role("link", name="Reports").get_attribute("aria-current") == "page"
    assert page.locator("#attainment").inner_text() == "50%"
    # The chart is SVG from the server: one week, its bar at half height.
    bar = page.locator("svg.trend rect.bar")
    assert bar.count() == 1
    assert "50% kept of 3" in bar.locator("title").text_content()
    rows = page.locator("#client-table tbody tr")
    assert rows.nth(0).locator("th").inner_text() == "Acme Robotics"
    assert rows.nth(1).locator("td").nth(4).inner_text() == "0%"  # Brightside's attainment
    people = page.locator("#people-table tbody tr")
    assert people.count() == 4
    kim = page.locator("#people-table tbody tr", has_text="Kim Lee")
    assert kim.locator("td").first.inner_text() == "24h 00m"
    save(page, "reports.png", tmp_path)

    # From Brightside's breach to the conversations behind it, in the inbox.
    rows.nth(1).locator("td").nth(2).get_by_role("link").click()
    page.wait_for_url("**/inbox?view=breached&client=brightside")
    assert page.get_by_text("Lucy Chen").count() >= 1
    assert page.get_by_text("Dana Reyes").count() == 0
    page.context.close()


def test_the_reports_page_reads_at_375_px(browser: Any, web: RunningApp, tmp_path: Path) -> None:
    page = open_page(browser, web, 375, 812)
    # Nothing but the tables' own scrolling boxes is wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    chart = page.locator("svg.trend").bounding_box()
    assert chart is not None and chart["width"] <= 375
    assert page.locator("#attainment").is_visible()
    save(page, "reports-375.png", tmp_path)
    page.context.close()


def test_a_bad_period_is_said_so(browser: Any, web: RunningApp) -> None:
    page = open_page(browser, web, 1100, 800)
    page.goto(web.url + "/inbox/reports?from=2026-12-08&to=2026-12-01")
    assert "ends before it starts" in page.get_by_role("alert").inner_text()
    page.context.close()


def test_the_client_report_from_its_link_prints(
    browser: Any, web: RunningApp, tmp_path: Path
) -> None:
    page = open_page(browser, web, 1100, 1000)
    page.get_by_role("link", name="2026-12 report").nth(1).click()  # Brightside's row
    page.wait_for_url("**/reports/clients/brightside?month=2026-12&token=*")
    assert page.get_by_role("heading", level=1).inner_text().startswith("Brightside Bakery")
    assert page.locator("#attainment").inner_text() == "0%"
    # Its own style applies (the CSP allows it by hash): the figures are boxed.
    border = page.locator(".figure").first.evaluate("e => getComputedStyle(e).borderTopStyle")
    assert border == "solid"
    save(page, "client-report.png", tmp_path)
    page.emulate_media(media="print")
    pdf = page.pdf(format="A4")
    assert pdf[:5] == b"%PDF-" and pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages") == 1
    page.context.close()
