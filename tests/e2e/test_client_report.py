"""A client's monthly report: the signed, expiring link (no login) and `partnerline report
client`, which writes the same page, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from adapters.standins.twilio import TwilioStandIn
from bot.usecases.reports import report_path, report_token, report_token_valid
from routing.clock import FrozenClock
from storage.tables import CommitmentRow
from tests.browser.inbox_support import add_login, inbox_app, signed_in
from tests.e2e.test_reports_api import MONDAY, make_day
from tests.support.app import EXAMPLE_CONFIG, LOOPBACK_TLS, RunningApp

ROOT = Path(__file__).resolve().parents[2]
SECRET = "test-secret-key"  # what tests.support.app gives PARTNERLINE_SECRET_KEY


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(MONDAY)


@pytest.fixture
def web(db_url: str, twilio: TwilioStandIn, clock: FrozenClock) -> Iterator[RunningApp]:
    with inbox_app(db_url, twilio.url, clock=clock) as running:
        add_login(running.container, "ana", "ana")
        add_login(running.container, "jim", "jim", admin=True)
        make_day(running, clock)
        yield running


def get(web: RunningApp, path: str) -> httpx.Response:
    with httpx.Client(base_url=web.url, timeout=10, verify=LOOPBACK_TLS) as anon:
        return anon.get(path)


def figures(html: str) -> list[str]:
    """What the page says, without the line that names when it was made."""
    body = re.sub(r"<footer>.*</footer>", "", html, flags=re.DOTALL)
    return re.findall(r"<dd[^>]*>([^<]*)</dd>|<td>([^<]*)</td>", body)  # type: ignore[return-value]


def test_the_signed_link_opens_one_clients_month(web: RunningApp, clock: FrozenClock) -> None:
    expires = clock.now() + timedelta(days=30)
    page = get(web, report_path(SECRET, "brightside", "2026-12", expires))
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "style-src 'sha256-" in csp
    assert page.headers["referrer-policy"] == "no-referrer"
    html = page.text
    assert "Brightside Bakery: how quickly we answered you in December 2026" in html
    assert '<dd id="attainment">0%</dd>' in html
    # The late answer, with its dates in the client's zone.
    assert "Dec 7, 10:00 AM EST" in html and "30m" in html
    assert "@media print" in html
    assert "Acme" not in html

    # The admin finds the link on the Reports page.
    with signed_in(web.url, "jim") as jim:
        reports = jim.get("/inbox/reports?from=2026-12-01&to=2026-12-07").text
    link = re.search(r'href="(/reports/clients/brightside\?[^"]+)"', reports)
    assert link is not None
    assert get(web, link.group(1).replace("&amp;", "&")).status_code == 200


def test_a_link_is_refused_when_wrong_expired_or_for_another_month(
    web: RunningApp, clock: FrozenClock
) -> None:
    later = clock.now() + timedelta(days=1)
    token = report_token(SECRET, "brightside", "2026-12", later)
    assert get(web, f"/reports/clients/brightside?month=2026-12&token={token}").status_code == 200
    for path in (
        "/reports/clients/brightside?month=2026-12",
        f"/reports/clients/brightside?month=2026-11&token={token}",
        f"/reports/clients/acme?month=2026-12&token={token}",
        f"/reports/clients/nobody?month=2026-12&token={token}",
        "/reports/clients/brightside?month=2026-12&token=1.abc",
        f"/reports/clients/brightside?month=2026-12&token={token[:-1]}0",
    ):
        assert get(web, path).status_code == 403, path
    clock.set(later)
    assert get(web, f"/reports/clients/brightside?month=2026-12&token={token}").status_code == 403
    assert not report_token_valid(SECRET, "brightside", "2026-12", token, later)
    assert report_token_valid(SECRET, "brightside", "2026-12", token, later - timedelta(seconds=1))
    good = report_token(SECRET, "brightside", "2026-13", later + timedelta(days=1))
    assert get(web, f"/reports/clients/brightside?month=2026-13&token={good}").status_code == 400


def test_the_command_writes_the_same_page(
    web: RunningApp, db_url: str, clock: FrozenClock, tmp_path: Path
) -> None:
    served = get(web, report_path(SECRET, "brightside", "2026-12", clock.now() + timedelta(1)))
    out = tmp_path / "brightside-2026-12.html"
    env = {**os.environ, "DATABASE_URL": db_url}
    env.pop("PARTNERLINE_CONFIG", None)
    command = [sys.executable, "-m", "bot.cli", "report", "client", "brightside"]
    options = ["--month", "2026-12", "--out", str(out), "--config", str(EXAMPLE_CONFIG)]
    options += ["--at", clock.now().isoformat()]
    run = subprocess.run(
        [*command, *options], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    written = out.read_text(encoding="utf-8")
    assert figures(written) == figures(served.text)
    assert "Brightside Bakery" in written
    wrong = subprocess.run(
        [*command[:-1], "nobody", *options], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert wrong.returncode == 1 and "no client 'nobody'" in wrong.stderr


def test_the_backfill_command_records_business_times_the_live_path_did(
    web: RunningApp, db_url: str, clock: FrozenClock
) -> None:
    """As after migration 0016: answers with no business time recorded, filled once by
    `partnerline report backfill` with what the live path recorded; the report is the same
    before and after."""
    path = report_path(SECRET, "brightside", "2026-12", clock.now() + timedelta(1))
    served = figures(get(web, path).text)
    answered = sa.select(CommitmentRow.id, CommitmentRow.business_seconds).where(
        CommitmentRow.answered_at.is_not(None)
    )
    db = web.container.db
    with db.session() as session:
        recorded = dict(session.execute(answered).all())
        assert len(recorded) == 2 and None not in recorded.values()
        session.execute(sa.update(CommitmentRow).values(business_seconds=None))
        session.commit()
    assert figures(get(web, path).text) == served  # computed from the calendars meanwhile
    env = {**os.environ, "DATABASE_URL": db_url}
    env.pop("PARTNERLINE_CONFIG", None)
    command = [sys.executable, "-m", "bot.cli", "report", "backfill"]
    run = subprocess.run(
        [*command, "--config", str(EXAMPLE_CONFIG)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert "recorded the business time of 2 answered commitments" in run.stdout
    with db.session() as session:
        assert dict(session.execute(answered).all()) == recorded
    assert figures(get(web, path).text) == served
