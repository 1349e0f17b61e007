"""`/inbox/simulate` over HTTP, on the real app (SQLite and PostgreSQL): admins upload a proposed
configuration and see the what-if report beside the configuration in force; staff are refused;
a file `partnerline check` would refuse shows its problems as check prints them; and nothing,
ever, is applied: the configuration in force, its stored version and every row stay as they
were.

Two client messages arrive on Monday evening (after hours): they are the recorded traffic the
replay reads. The proposal hands the nights to Sam, who has no way to be paged.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import datetime
from html import unescape
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import func, select

from adapters.standins.twilio import TwilioStandIn
from bot.config import check_text
from routing.clock import FrozenClock
from storage.tables import Base
from tests.browser.inbox_support import add_login, csrf_from, inbox_app, signed_in
from tests.support.app import EXAMPLE_CONFIG, RunningApp
from tests.support.proposals import proposed_text

MONDAY_EVENING = datetime(2026, 12, 7, 19, 0, tzinfo=ZoneInfo("America/Detroit"))
DANA, GEORGE = "+13135550142", "+447700900123"
PAGE = "/inbox/simulate"
# The tables a what-if could touch if it wrote anything: all of them but the sign-ins.
WATCHED = [t for t in Base.metadata.sorted_tables if t.name != "staff_sessions"]


@pytest.fixture
def web(db_url: str, twilio: TwilioStandIn) -> Iterator[RunningApp]:
    with inbox_app(db_url, twilio.url, clock=FrozenClock(MONDAY_EVENING)) as running:
        add_login(running.container, "jim", "jim", admin=True)
        add_login(running.container, "ana", "ana")
        for n, sender in enumerate((DANA, GEORGE)):
            form = running.sms_form(f"SM{n:032d}", sender, "Our dashboard is down")
            assert running.post_sms(form).status_code == 200
        settled(running)
        yield running


def settled(web: RunningApp) -> None:
    """Until the worker has done all it will do on a frozen clock (first notifications sent;
    later steps wait for a time that never comes)."""
    last, deadline = state(web), time.monotonic() + 10
    while time.monotonic() < deadline:
        time.sleep(0.3)
        now = state(web)
        if now == last:
            return
        last = now
    raise AssertionError("the worker never settled")


def state(web: RunningApp) -> tuple[object, object, dict[str, int]]:
    """The configuration in force, the stored version, and the rows of every table."""
    with web.container.services.reader() as uow:
        version = uow.config_versions.current()
    with web.container.db.session() as session:
        counts = {
            t.name: session.execute(select(func.count()).select_from(t)).scalar_one()
            for t in WATCHED
        }
    return web.container.live.current, version, counts


def run(client: httpx.Client, text: str, name: str = "summer.toml", **fields: str) -> Any:
    csrf = csrf_from(client.get(PAGE).text)
    data = {"csrf_token": csrf, "from": "2026-12-07", "to": "2026-12-07", **fields}
    files = {"file": (name, text.encode(), "application/toml")}
    return client.post(PAGE, data=data, files=files)


def text_of(fragment: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", fragment))).strip()


def test_an_admin_sees_the_form_with_the_last_28_days(web: RunningApp) -> None:
    with signed_in(web.url, "jim") as jim:
        page = jim.get(PAGE)
        assert page.status_code == 200
        html = page.text
        assert 'name="from" type="date" value="2026-11-09"' in html
        assert 'name="to" type="date" value="2026-12-06"' in html
        assert 'enctype="multipart/form-data"' in html and 'name="file" type="file"' in html
        assert '<a href="/inbox/simulate" aria-current="page">What-if</a>' in html
        assert 'id="whatif-report"' not in html
        # The nav offers it to admins from every page.
        assert 'href="/inbox/simulate"' in jim.get("/inbox/oncall").text


def test_staff_are_refused_and_never_offered_it(web: RunningApp) -> None:
    before = state(web)
    with signed_in(web.url, "ana") as ana:
        assert 'href="/inbox/simulate"' not in ana.get("/inbox").text
        refused = ana.get(PAGE)
        assert refused.status_code == 403
        assert "Only admin accounts may run a what-if." in refused.text
        csrf = csrf_from(ana.get("/inbox").text)
        posted = ana.post(
            PAGE,
            data={"csrf_token": csrf, "from": "2026-12-07", "to": "2026-12-07"},
            files={"file": ("p.toml", proposed_text().encode(), "application/toml")},
        )
        assert posted.status_code == 403 and 'id="whatif-report"' not in posted.text
    with httpx.Client(base_url=web.url, verify=False) as anonymous:
        answer = anonymous.get(PAGE)
        assert answer.status_code == 303
        assert answer.headers["location"] == "/login?next=%2Finbox%2Fsimulate"
    assert state(web) == before


def test_a_post_without_the_csrf_token_is_refused(web: RunningApp) -> None:
    with signed_in(web.url, "jim") as jim:
        posted = jim.post(
            PAGE,
            data={"from": "2026-12-07", "to": "2026-12-07"},
            files={"file": ("p.toml", proposed_text().encode(), "application/toml")},
        )
        assert posted.status_code == 403 and 'id="whatif-report"' not in posted.text


def test_a_file_check_refuses_shows_its_problems_as_check_prints_them(web: RunningApp) -> None:
    bad = (
        EXAMPLE_CONFIG.read_text(encoding="utf-8")
        .replace('sms = "+13135550102"', 'sms = "555-0102"', 1)
        .replace('shift = "1w"', 'shift = "1w"\ncolour = "blue"', 1)
    )
    _, problems = check_text(bad, "summer.toml")
    lines = [str(p) for p in problems]
    assert len(lines) == 2 and lines[0].startswith("summer.toml:")
    assert "staff[1].sms" in lines[0] and "rotations[0].colour" in lines[1]
    before = state(web)
    with signed_in(web.url, "jim") as jim:
        answer = run(jim, bad)
        assert answer.status_code == 400
        shown = re.findall(r"<li><code>(.*?)</code></li>", answer.text)
        assert [unescape(s) for s in shown] == lines
        assert "summer.toml has 2 problems; nothing was run" in text_of(answer.text)
        assert 'id="whatif-report"' not in answer.text
        # The text comes back to fix and run again.
        assert "colour = &#34;blue&#34;" in answer.text or 'colour = "blue"' in answer.text
        # Not TOML at all: the syntax error, at its line.
        broken = run(jim, "[agency\nname = 1\n", name="broken.toml")
        assert broken.status_code == 400
        assert re.search(r"<code>broken\.toml:1: [^<]+</code>", broken.text)
    assert state(web) == before


def test_a_good_file_shows_the_report_and_changes_nothing(web: RunningApp) -> None:
    before = state(web)
    with signed_in(web.url, "jim") as jim:
        answer = run(jim, proposed_text())
        assert answer.status_code == 200, text_of(answer.text)[:500]
        html = answer.text
        report = html[html.index('id="whatif-report"') :]
        setup = text_of(report[: report.index("</dl>")])
        assert "Period Mon Dec 7, 2026 to Mon Dec 7, 2026" in setup
        assert "2 client messages, recorded in the database" in setup
        assert f"Current {EXAMPLE_CONFIG} (in force)" in setup
        assert "Proposed summer.toml" in setup
        headline = text_of(report[report.index('class="headline"') : report.index("</table>")])
        # Both messages came after hours: each pages under the current file (Raj is on call),
        # and reaches nobody under the proposal.
        assert "Commitments started 2 2" in headline
        assert "Pages opened 2 2" in headline
        assert re.search(r"Page notifications (\d+) 0 -\1", headline), headline
        assert report.count("<svg") == 2
        assert "Raj Patel" in report and "never notified" in report
        assert "Clients: Acme Robotics (acme), Thames Analytics (thames)." in text_of(report)
        # The form keeps what was asked, the text included, to change and run again.
        assert 'name="name" value="summer.toml"' in html
        assert "Sam Stone" in html[html.index('id="sim-text"') : html.index("</textarea>")]
    after = state(web)
    assert after[0] is before[0] and after[1] == before[1] and after[2] == before[2]


def test_synthetic_traffic_and_the_standalone_download(web: RunningApp) -> None:
    with signed_in(web.url, "jim") as jim:
        answer = run(
            jim,
            proposed_text(),
            **{
                "from": "2026-11-09",
                "to": "2026-12-06",
                "traffic": "synthetic",
                "per_day": "20",
                "seed": "3",
                "as": "file",
            },
        )
        assert answer.status_code == 200
        assert answer.headers["content-disposition"] == (
            'attachment; filename="what-if-2026-11-09-2026-12-06.html"'
        )
        assert answer.headers["content-security-policy"].startswith("default-src 'none';")
        html = answer.text
        assert html.startswith("<!doctype html>") and "<style>" in html
        assert "synthetic 20/day, seed 3" in html
        for reference in ("http://", "https://", "//", "<link", "<script"):
            assert reference not in html
        # Out of bounds: said, and nothing run.
        too_long = run(jim, proposed_text(), **{"from": "2020-01-01", "to": "2026-12-06"})
        assert too_long.status_code == 400 and "at most 366 days" in too_long.text
        reversed_period = run(jim, proposed_text(), **{"from": "2026-12-07", "to": "2026-12-01"})
        assert reversed_period.status_code == 400
        assert "ends (2026-12-01) before it starts (2026-12-07)" in reversed_period.text
        nothing = jim.post(
            PAGE,
            data={
                "csrf_token": csrf_from(jim.get(PAGE).text),
                "from": "2026-12-07",
                "to": "2026-12-07",
                "text": "  ",
            },
        )
        assert nothing.status_code == 400
        assert "Choose a proposed configuration file, or paste one." in nothing.text
        # Past the inbox's body limit (256 KB), refused before anything is read.
        huge = run(jim, proposed_text() + "#" * (300 * 1024))
        assert huge.status_code == 413


def test_pasted_text_runs_as_a_file_does(web: RunningApp) -> None:
    with signed_in(web.url, "jim") as jim:
        csrf = csrf_from(jim.get(PAGE).text)
        answer = jim.post(
            PAGE,
            data={
                "csrf_token": csrf,
                "from": "2026-12-07",
                "to": "2026-12-07",
                "text": proposed_text(),
            },
        )
        assert answer.status_code == 200
        assert "Proposed proposed.toml" in text_of(answer.text)


def test_malformed_forms_get_a_clear_answer_and_change_nothing(web: RunningApp) -> None:
    """What the bounds above leave: unreadable fields and files, each a 400 that says which."""
    before = state(web)
    good = proposed_text()
    synthetic = {"from": "2026-12-01", "to": "2026-12-07", "traffic": "synthetic"}
    asked: list[tuple[str, str, dict[str, str], str]] = [
        (good, "p.toml", {"from": "7 Dec"}, "From: '7 Dec' is not a date"),
        (good, "p.toml", {**synthetic, "per_day": "nan"}, "between 1 and 2000 a day"),
        (good, "p.toml", {**synthetic, "seed": "1.5"}, "needs a number a day and a whole seed"),
        ("[agency\n", "p.toml", {}, "p.toml:1"),
    ]
    with signed_in(web.url, "jim") as jim:
        for text, name, fields, said in asked:
            answer = run(jim, text, name, **fields)
            shown = text_of(answer.text)
            assert answer.status_code == 400, (fields, answer.status_code, shown[:300])
            assert said in shown, (fields, shown[:500])
            assert "Traceback" not in answer.text and 'id="whatif-report"' not in answer.text
        # Not UTF-8: named by its file and line, as check names a problem.
        latin = jim.post(
            PAGE,
            data={"csrf_token": csrf_from(jim.get(PAGE).text), "from": "2026-12-07"},
            files={"file": ("p.toml", b'[agency]\nname = "caf\xe9"\n', "application/toml")},
        )
        assert latin.status_code == 400
        assert "p.toml:2: not UTF-8 text" in text_of(latin.text)
    assert state(web) == before
