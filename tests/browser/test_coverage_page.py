"""The On call page lists the coverage gaps of the next 90 days (issue 17, point 2): with the
overrides stored in the database, in the reader's zone, with the clients affected by name;
"No gaps in the next 90 days" when there are none.

The example agency, with one more person, Sam, who has no way to be paged (no notify rule),
and an escalation whose only step is the after-hours rotation. It covers every closed hour of
the office, so there is no gap until an admin hands a night to Sam.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from html import unescape
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from adapters.standins.twilio import TwilioStandIn
from routing.clock import FrozenClock
from tests.browser.inbox_support import add_login, csrf_from, inbox_app, signed_in
from tests.browser.test_inbox_browser import save, sign_in
from tests.support.app import RunningApp
from tests.support.proposals import with_sam

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

MONDAY_MORNING = datetime(2026, 12, 7, 10, 0, tzinfo=ZoneInfo("America/Detroit"))
GAP_TEXT = re.compile(r"\s+")


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "agency.toml"
    path.write_text(with_sam(), encoding="utf-8")
    return path


@pytest.fixture
def web(db_url: str, twilio: TwilioStandIn, config: Path) -> Iterator[RunningApp]:
    clock = FrozenClock(MONDAY_MORNING)
    with inbox_app(db_url, twilio.url, clock=clock, config_path=config) as running:
        add_login(running.container, "jim", "jim", admin=True)
        add_login(running.container, "ana", "ana")
        yield running


def gap_items(html: str) -> list[str]:
    section = html[html.index("<h2>Coverage gaps (next 90 days)</h2>") :]
    section = section[: section.index("</ul>")]
    items = re.findall(r"<li[^>]*>(.*?)</li>", section, re.DOTALL)
    return [GAP_TEXT.sub(" ", unescape(re.sub(r"<[^>]+>", "", item))).strip() for item in items]


def hand_a_night_to_sam(jim: Any) -> None:
    panel = jim.get("/inbox/oncall").text
    added = jim.post(
        "/inbox/overrides",
        data={
            "csrf_token": csrf_from(panel),
            "rotation": "after-hours",
            "staff": "sam",
            "start": "2026-12-08T18:00",
            "end": "2026-12-09T08:00",
        },
    )
    assert added.status_code == 303, added.text


def test_the_oncall_page_lists_gaps_with_stored_overrides_in_the_readers_zone(
    web: RunningApp,
) -> None:
    with signed_in(web.url, "jim") as jim:
        assert gap_items(jim.get("/inbox/oncall").text) == ["No gaps in the next 90 days."]
        hand_a_night_to_sam(jim)  # in Jim's zone, the agency's
        html = jim.get("/inbox/oncall").text
        assert gap_items(html) == [
            "Dec 8, 6:00 PM EST to Dec 9, 8:00 AM EST, escalation default: nobody to page: "
            "rotation 'after-hours' is overridden to 'sam', who has no notify rule. "
            "Clients: Acme Robotics, Thames Analytics"
        ]
        assert (
            '<time datetime="2026-12-08T23:00:00+00:00">Dec 8, 6:00 PM EST</time> to '
            '<time datetime="2026-12-09T13:00:00+00:00">Dec 9, 8:00 AM EST</time>'
        ) in html
    # Ana reads in Tokyo: the same gap in her zone.
    with signed_in(web.url, "ana") as ana:
        token = csrf_from(ana.get("/inbox/profile").text)
        saved = ana.post("/inbox/profile", data={"csrf_token": token, "timezone": "Asia/Tokyo"})
        assert saved.status_code == 303
        [item] = gap_items(ana.get("/inbox/oncall").text)
        assert item.startswith("Dec 9, 8:00 AM JST to Dec 9, 10:00 PM JST, escalation default:")
    # The override removed, the gap goes with it.
    with web.api() as api:
        [stored] = api.get("/api/overrides").json()["items"]
        assert api.delete(f"/api/overrides/{stored['id']}").status_code in (200, 204)
    with signed_in(web.url, "jim") as jim:
        assert gap_items(jim.get("/inbox/oncall").text) == ["No gaps in the next 90 days."]


def test_a_browser_shows_the_gap_and_its_clients(
    web: RunningApp, page: Any, tmp_path: Path
) -> None:
    with signed_in(web.url, "jim") as jim:
        hand_a_night_to_sam(jim)
    sign_in(page, web)
    page.goto(web.url + "/inbox/oncall")
    page.get_by_role("heading", name="Coverage gaps (next 90 days)").wait_for()
    gap = page.locator("ul.gaps li")
    assert gap.count() == 1
    assert gap.locator("time").first.inner_text() == "Dec 8, 6:00 PM EST"
    assert gap.locator(".gap-clients").inner_text() == "Clients: Acme Robotics, Thames Analytics"
    assert "overridden to 'sam'" in gap.inner_text()
    save(page, "oncall-coverage-gap.png", tmp_path)
