"""The what-if page in Chromium (issue 17, point 4): an admin opens it from the nav, uploads a
proposed configuration, asks for four weeks of synthetic traffic, and reads the report in the
inbox: the figures side by side, the two weekly charts, the people, the coverage gaps and the
differences; on a phone too, without sideways scrolling. The report is saved as
docs/screenshots/what-if.png when PARTNERLINE_SCREENSHOTS=docs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from adapters.standins.twilio import TwilioStandIn
from routing.clock import FrozenClock
from tests.browser.inbox_support import add_login, inbox_app
from tests.browser.test_inbox_browser import save, sign_in
from tests.support.app import RunningApp
from tests.support.proposals import proposed_text

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.parametrize("db_url", ["sqlite"], indirect=True),
]
MONDAY_MORNING = datetime(2026, 12, 7, 10, 0, tzinfo=ZoneInfo("America/Detroit"))


@pytest.fixture
def web(db_url: str, twilio: TwilioStandIn) -> Iterator[RunningApp]:
    with inbox_app(db_url, twilio.url, clock=FrozenClock(MONDAY_MORNING)) as running:
        add_login(running.container, "jim", "jim", admin=True)
        yield running


@pytest.fixture
def proposed(tmp_path: Path) -> Path:
    path = tmp_path / "nights-to-sam.toml"
    path.write_text(proposed_text(), encoding="utf-8")
    return path


def run_what_if(page: Any, web: RunningApp, proposed: Path) -> Any:
    sign_in(page, web)
    page.get_by_role("link", name="What-if").click()
    page.wait_for_url(web.url + "/inbox/simulate")
    assert page.get_by_label("From").input_value() == "2026-11-09"
    assert page.get_by_label("To (included)").input_value() == "2026-12-06"
    page.get_by_label("A TOML file").set_input_files(str(proposed))
    page.get_by_label("Synthetic traffic").check()
    page.get_by_label("Synthetic messages a day").fill("30")
    page.get_by_role("button", name="Run the what-if").click()
    report = page.locator("#whatif-report")
    report.wait_for()
    return report


def test_an_admin_uploads_a_proposal_and_reads_the_report(
    web: RunningApp, page: Any, proposed: Path, tmp_path: Path
) -> None:
    report = run_what_if(page, web, proposed)
    assert report.locator("#whatif-proposed").inner_text() == "nights-to-sam.toml"
    assert "synthetic 30/day, seed 17" in report.locator("#whatif-traffic").inner_text()
    rows = report.locator("table.headline tbody tr")
    assert rows.count() == 6
    notifications = rows.filter(has_text="Page notifications").locator("td")
    assert int(notifications.nth(0).inner_text()) > 0
    assert notifications.nth(1).inner_text() == "0"
    charts = report.locator("figure.chart svg")
    assert charts.count() == 2
    assert charts.first.locator("rect.bar").count() == 2 * 4  # two bars a week, four weeks
    assert charts.first.bounding_box()["width"] > 300
    assert report.locator("table.people").get_by_text("Raj Patel").is_visible()
    gap = report.locator("ul.gaps li").first
    assert "Acme Robotics (acme), Thames Analytics (thames)" in gap.inner_text()
    assert report.locator("ul.differences > li").count() >= 1
    # Nothing applied: the text ran is back in the form, and the file in force is unchanged.
    assert "Sam Stone" in page.get_by_label("or its text").input_value()
    assert "(in force)" in report.locator("#whatif-current").inner_text()
    page.set_viewport_size({"width": 1000, "height": 1500})
    save(page, "what-if.png", tmp_path, at=page.locator("#simulate-result"))


def test_the_report_reads_on_a_phone(web: RunningApp, browser: Any, proposed: Path) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 700}, is_mobile=True)
    try:
        page = context.new_page()
        report = run_what_if(page, web, proposed)
        assert report.locator("figure.chart svg").first.bounding_box()["width"] <= 375
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, f"the page scrolls sideways ({width}px)"
    finally:
        context.close()
