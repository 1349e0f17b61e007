"""Times in the inbox say their zone, the reader's own: chosen on /inbox/profile (the agency's
until then), rendered by the server, so that browsers in any zone read one instant alike; the
client's reading beside where their clock differs; the override form takes the reader's zone.

Monday 7 December 2026, 10:00 in Detroit (EST, UTC-5) is 15:00 UTC, 15:00 GMT in London and
00:00 on Tuesday in Tokyo (JST, UTC+9). George Hill's client, Thames Analytics, is in London.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from adapters.standins.twilio import TwilioStandIn
from routing.clock import FrozenClock
from tests.browser.conftest import TIMEOUT
from tests.browser.inbox_support import add_login, csrf_from, inbox_app, signed_in
from tests.browser.test_inbox_browser import sign_in
from tests.e2e.test_sms_flow import eventually
from tests.support.app import RunningApp

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

MONDAY_MORNING = datetime(2026, 12, 7, 10, 0, tzinfo=ZoneInfo("America/Detroit"))
DANA, GEORGE = "+13135550142", "+447700900123"
TIME = re.compile(r'<time datetime="([^"]+)">([^<]*)</time>')


@pytest.fixture
def web(db_url: str, twilio: TwilioStandIn) -> Iterator[RunningApp]:
    with inbox_app(db_url, twilio.url, clock=FrozenClock(MONDAY_MORNING)) as running:
        add_login(running.container, "jim", "jim", admin=True)
        add_login(running.container, "ana", "ana")
        yield running


def _conversations(web: RunningApp) -> dict[str, int]:
    """Dana (Detroit, priority) and George (London, priority) write at 10:00 EST; their
    conversation ids by number. Both are due at 10:30 EST (15:30 UTC)."""
    for n, sender in enumerate((DANA, GEORGE)):
        form = web.sms_form(f"SM{n:032d}", sender, f"Hello from {sender}")
        assert web.post_sms(form).status_code == 200
    with web.api() as api:

        def both() -> list[dict[str, Any]]:
            items: list[dict[str, Any]] = api.get("/api/conversations").json()["items"]
            return items if len(items) == 2 else []

        return {c["contact"]["address"]: c["id"] for c in eventually(both)}


def _times(html: str) -> list[tuple[str, str]]:
    return TIME.findall(html)


def _set_zone(client: httpx.Client, zone: str) -> httpx.Response:
    token = csrf_from(client.get("/inbox/profile").text)
    return client.post("/inbox/profile", data={"csrf_token": token, "timezone": zone})


def test_a_staff_member_chooses_their_zone_and_every_time_follows(web: RunningApp) -> None:
    ids = _conversations(web)
    george = f"/inbox/conversations/{ids[GEORGE]}"
    with signed_in(web.url, "ana") as ana:
        # Until chosen: the agency's zone, named in the header and the profile's list.
        profile = ana.get("/inbox/profile").text
        assert re.search(r"<option value=\"\" selected>The agency's \(America/Detroit\)", profile)
        assert "· EST</a>" in profile
        page = ana.get(george).text
        # The due time in the head, the client's reading beside it; the message's time too.
        assert re.search(
            r'due <time datetime="2026-12-07T15:30:00\+00:00">Dec 7, 10:30 AM EST</time> '
            r'<small class="client-time">\(3:30 PM GMT for the client\)</small>',
            page,
        )
        assert (
            '<time datetime="2026-12-07T15:00:00+00:00">Dec 7, 10:00 AM EST</time> '
            '<small class="client-time">(3:00 PM GMT for the client)</small>'
        ) in page
        # Dana's client shares the agency's zone: nothing beside.
        dana = ana.get(f"/inbox/conversations/{ids[DANA]}").text
        assert "Dec 7, 10:30 AM EST</time></span>" in dana and "for the client" not in dana
        rows = ana.get("/inbox/rows").text
        assert ("2026-12-07T15:00:00+00:00", "Dec 7, 10:00 AM EST") in _times(rows)

        answer = _set_zone(ana, "Asia/Tokyo")
        assert answer.status_code == 303 and answer.headers["location"] == "/inbox/profile?saved=1"
        profile = ana.get(answer.headers["location"]).text
        assert '<option value="Asia/Tokyo" selected>' in profile
        assert "times now show in Asia/Tokyo (JST)" in profile and "· JST</a>" in profile
        page = ana.get(george).text
        assert re.search(
            r'due <time datetime="2026-12-07T15:30:00\+00:00">Dec 8, 12:30 AM JST</time> '
            r'<small class="client-time">\(Dec 7, 3:30 PM GMT for the client\)</small>',
            page,
        )
        assert ("2026-12-07T15:00:00+00:00", "Dec 8, 12:00 AM JST") in _times(page)
        # Now Dana's conversation shows Detroit's time beside, a day earlier.
        dana = ana.get(f"/inbox/conversations/{ids[DANA]}").text
        assert "(Dec 7, 10:30 AM EST for the client)" in dana
        assert ("2026-12-07T15:00:00+00:00", "Dec 8, 12:00 AM JST") in _times(
            ana.get("/inbox/rows").text
        )
        assert "EST</time>" not in ana.get("/inbox/oncall").text

        # A zone that is none: a clear refusal, and the choice stays as it was.
        for bad in ("Mars/Olympus_Mons", "../../etc/passwd", "EST5EDT"):
            refused = _set_zone(ana, bad)
            assert refused.status_code == 400, bad
            assert "is not a time zone; choose one from the list" in refused.text
        assert "Dec 8, 12:30 AM JST" in ana.get(george).text
        # Nor without the form's token.
        refused = ana.post("/inbox/profile", data={"timezone": "Europe/London"})
        assert refused.status_code == 403
        assert "Dec 8, 12:30 AM JST" in ana.get(george).text

        # Back to the agency's.
        assert _set_zone(ana, "").status_code == 303
        assert "Dec 7, 10:30 AM EST" in ana.get(george).text

    # One login's choice is its own: Jim still reads the agency's zone.
    with signed_in(web.url, "jim") as jim:
        assert "Dec 7, 10:30 AM EST" in jim.get(george).text


def test_the_override_form_takes_and_shows_times_in_the_readers_zone(web: RunningApp) -> None:
    with signed_in(web.url, "jim") as jim:
        assert _set_zone(jim, "Asia/Tokyo").status_code == 303
        panel = jim.get("/inbox/oncall").text
        assert "Add an override (times in Asia/Tokyo (JST))" in panel
        assert "Times in Asia/Tokyo (JST)." in panel
        # 09:00 on Tuesday in Tokyo is 00:00 UTC, 19:00 on Monday in Detroit.
        added = jim.post(
            "/inbox/overrides",
            data={
                "csrf_token": csrf_from(panel),
                "rotation": "leadership",
                "staff": "raj",
                "start": "2026-12-08T09:00",
                "end": "2026-12-08T17:00",
            },
        )
        assert added.status_code == 303, added.text
        with web.api() as api:
            [stored] = api.get("/api/overrides").json()["items"]
        assert datetime.fromisoformat(stored["start"]) == datetime(2026, 12, 8, 0, 0, tzinfo=UTC)
        assert datetime.fromisoformat(stored["end"]) == datetime(2026, 12, 8, 8, 0, tzinfo=UTC)
        times = _times(jim.get("/inbox/oncall").text)
        assert ("2026-12-08T00:00:00+00:00", "Dec 8, 9:00 AM JST") in times
        assert ("2026-12-08T08:00:00+00:00", "Dec 8, 5:00 PM JST") in times
        # "Now" and the rotation table's "until" say the zone as well: the after-hours
        # rotation rests from noon (lunch) in Detroit, the override starts at 00:00 UTC.
        assert times[:3] == [
            ("2026-12-07T15:00:00+00:00", "Dec 8, 12:00 AM JST"),
            ("2026-12-07T17:00:00+00:00", "Dec 8, 2:00 AM JST"),
            ("2026-12-08T00:00:00+00:00", "Dec 8, 9:00 AM JST"),
        ]

    # The same override, read by someone in the agency's zone.
    with signed_in(web.url, "ana") as ana:
        panel = ana.get("/inbox/oncall").text
        assert ("2026-12-08T00:00:00+00:00", "Dec 7, 7:00 PM EST") in _times(panel)
        assert "Times in America/Detroit (EST)." in panel


# ---------------------------------------------------------------------- in real browsers


@pytest.fixture
def two_browsers(browser: Any) -> Iterator[dict[str, Any]]:
    """Two browser contexts of one machine, whose clocks read UTC and Asia/Tokyo."""
    contexts = {
        zone: browser.new_context(
            viewport={"width": 1100, "height": 760}, timezone_id=zone, locale="en-US"
        )
        for zone in ("UTC", "Asia/Tokyo")
    }
    try:
        for context in contexts.values():
            context.set_default_timeout(TIMEOUT)
        yield contexts
    finally:
        for context in contexts.values():
            context.close()


def _shown(page: Any, selector: str = "main") -> list[tuple[str, str]]:
    """Every <time> under `selector` as the person sees it: (datetime attribute, text)."""
    return [
        (el.get_attribute("datetime"), el.inner_text())
        for el in page.locator(f"{selector} time").all()
    ]


def test_browsers_in_utc_and_tokyo_read_the_same_instants_alike(
    web: RunningApp, two_browsers: dict[str, Any]
) -> None:
    ids = _conversations(web)
    with web.api() as api:
        api.post(
            "/api/overrides",
            json={
                "rotation": "leadership",
                "staff": "raj",
                "start": "2026-12-08T09:00:00-05:00",
                "end": "2026-12-08T17:00:00-05:00",
            },
        ).raise_for_status()
    seen: dict[str, dict[str, list[tuple[str, str]]]] = {}
    for zone, context in two_browsers.items():
        page = context.new_page()
        assert page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone") == zone
        sign_in(page, web)
        page.locator("#rows li.row").nth(1).wait_for()
        views = {"inbox": _shown(page, "#rows")}
        assert page.locator("header .who").inner_text().endswith("· EST")
        page.goto(web.url + f"/inbox/conversations/{ids[GEORGE]}")
        page.locator("#conv-head .due time").wait_for()
        views["conversation"] = _shown(page)
        views["client"] = [(zone, t) for t in page.locator(".client-time").all_inner_texts()]
        page.goto(web.url + "/inbox/oncall")
        page.locator(".overrides time").first.wait_for()
        views["oncall"] = _shown(page)
        views["oncall-labels"] = [(zone, page.locator(".override-form legend").inner_text())]
        seen[zone] = views

    utc, tokyo = seen["UTC"], seen["Asia/Tokyo"]
    for view in ("inbox", "conversation", "oncall"):
        assert utc[view] == tokyo[view], view
        assert utc[view] and all(text.endswith(" EST") for _, text in utc[view]), utc[view]
    assert ("2026-12-07T15:00:00+00:00", "Dec 7, 10:00 AM EST") in utc["inbox"]
    assert ("2026-12-07T15:30:00+00:00", "Dec 7, 10:30 AM EST") in utc["conversation"]
    assert ("2026-12-08T14:00:00+00:00", "Dec 8, 9:00 AM EST") in utc["oncall"]
    assert ("2026-12-08T22:00:00+00:00", "Dec 8, 5:00 PM EST") in utc["oncall"]
    assert ("2026-12-07T17:00:00+00:00", "Dec 7, 12:00 PM EST") in utc["oncall"]
    # The client's readings and the form's zone, alike in both browsers too.
    assert [t for _, t in utc["client"]] == [t for _, t in tokyo["client"]]
    assert "(3:30 PM GMT for the client)" in [t for _, t in utc["client"]]
    assert utc["oncall-labels"][0][1] == tokyo["oncall-labels"][0][1]
    assert utc["oncall-labels"][0][1] == "Add an override (times in America/Detroit (EST))"
