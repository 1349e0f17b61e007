"""On-call end to end: the real app on loopback, SQLite and PostgreSQL, the CLI in a subprocess.

The example configuration's after-hours rotation hands over every Monday 09:00 in Detroit
(jim, ana, raj from 2 November 2026), so the week of 7 December is Raj's and the week of
14 December Jim's; the office closes at 17:30 on weekdays (16:00 on Fridays).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from icalendar import Calendar

from adapters.standins.twilio import TwilioStandIn
from bot.usecases.feeds import feed_path
from routing.clock import FrozenClock
from tests.support.app import EXAMPLE_CONFIG, RunningApp, running_app

ROOT = Path(__file__).resolve().parents[2]
SECRET = "test-secret-key"  # what tests.support.app gives PARTNERLINE_SECRET_KEY
NOW = datetime(2026, 12, 7, 20, 0, tzinfo=UTC)  # Monday 15:00 in Detroit, office open
MONDAY_NIGHT = "2026-12-07T20:00:00-05:00"  # after hours, Raj's week
RAJ_UNTIL = "2026-12-08T14:00:00+00:00"  # Tuesday 09:00 in Detroit, the office opens
H = timedelta(hours=1)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture
def app(db_url: str, twilio: TwilioStandIn, clock: FrozenClock) -> Iterator[RunningApp]:
    with running_app(db_url, twilio.url, clock=clock) as running:
        yield running


def oncall(app: RunningApp, at: str) -> dict[str, Any]:
    with app.api() as api:
        response = api.get("/api/oncall", params={"at": at})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def rotation(answer: dict[str, Any], rotation_id: str) -> dict[str, Any]:
    (found,) = [r for r in answer["rotations"] if r["rotation"] == rotation_id]
    return found  # type: ignore[no-any-return]


def add_override(app: RunningApp, **body: str) -> dict[str, Any]:
    with app.api() as api:
        response = api.post("/api/overrides", json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def cli(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": db_url}
    env.pop("PARTNERLINE_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "oncall", "--config", str(EXAMPLE_CONFIG), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


# ---------------------------------------------------------------------------- who is on call


def test_oncall_answers_every_rotation_in_the_contract_shape(app: RunningApp) -> None:
    answer = oncall(app, MONDAY_NIGHT)
    assert answer["at"] == "2026-12-08T01:00:00+00:00"
    assert [r["rotation"] for r in answer["rotations"]] == ["after-hours", "leadership"]
    after_hours = rotation(answer, "after-hours")
    assert after_hours["staff"] == "raj"
    assert after_hours["name"] == "Raj Patel"
    assert after_hours["until"] == RAJ_UNTIL
    assert after_hours["next"] == "jim"  # Raj has the nights until Monday; then it is Jim's week
    assert after_hours["override"] is None
    assert rotation(answer, "leadership")["staff"] == "kim"


def test_nobody_is_on_call_after_hours_while_the_office_is_open(app: RunningApp) -> None:
    after_hours = rotation(oncall(app, "2026-12-08T10:00:00-05:00"), "after-hours")
    assert after_hours["staff"] is None
    assert after_hours["name"] is None
    assert after_hours["until"] == "2026-12-08T22:30:00+00:00"  # 17:30 closing
    assert after_hours["next"] == "raj"


def test_without_at_the_answer_is_for_the_apps_clock(app: RunningApp) -> None:
    with app.api() as api:
        answer = api.get("/api/oncall").json()
    assert answer["at"] == NOW.isoformat()
    assert rotation(answer, "after-hours")["staff"] is None  # 15:00 on a Monday


def test_an_override_wins_and_deleting_it_restores_the_schedule(app: RunningApp) -> None:
    before = oncall(app, MONDAY_NIGHT)
    created = add_override(
        app,
        rotation="after-hours",
        staff="ana",
        start="2026-12-07T19:00:00-05:00",
        end="2026-12-07T23:00:00-05:00",
    )
    assert created["rotation"] == "after-hours"
    assert created["staff"] == "ana"
    assert created["start"] == "2026-12-08T00:00:00+00:00"
    assert created["created_by"] == "admin"
    covered = rotation(oncall(app, MONDAY_NIGHT), "after-hours")
    assert covered["staff"] == "ana"
    assert covered["until"] == "2026-12-08T04:00:00+00:00"
    assert covered["next"] == "raj"
    assert covered["override"] == created["id"]
    # Just before it, Raj's answer now ends where Ana's override begins.
    assert rotation(oncall(app, "2026-12-07T18:30:00-05:00"), "after-hours")["until"] == (
        "2026-12-08T00:00:00+00:00"
    )

    with app.api() as api:
        assert api.delete(f"/api/overrides/{created['id']}").status_code == 204
        again = api.delete(f"/api/overrides/{created['id']}")
    assert again.status_code == 404
    assert again.json()["detail"]
    assert oncall(app, MONDAY_NIGHT) == before


def test_a_swap_is_two_overrides(app: RunningApp) -> None:
    # Raj and Jim trade weeks: Jim takes Raj's (7-14 Dec), Raj takes Jim's (14-21 Dec).
    add_override(
        app,
        rotation="after-hours",
        staff="jim",
        start="2026-12-07T09:00:00-05:00",
        end="2026-12-14T09:00:00-05:00",
    )
    add_override(
        app,
        rotation="after-hours",
        staff="raj",
        start="2026-12-14T09:00:00-05:00",
        end="2026-12-21T09:00:00-05:00",
    )
    this_week = rotation(oncall(app, MONDAY_NIGHT), "after-hours")
    next_week = rotation(oncall(app, "2026-12-15T20:00:00-05:00"), "after-hours")
    assert (this_week["staff"], this_week["next"]) == ("jim", "raj")
    assert next_week["staff"] == "raj"
    # An override holds even while the office is open (routing.rotations): the whole range.
    assert rotation(oncall(app, "2026-12-15T11:00:00-05:00"), "after-hours")["staff"] == "raj"
    assert rotation(oncall(app, "2026-12-22T01:00:00-05:00"), "after-hours")["staff"] == "ana"


def test_the_cli_gives_the_same_answer_as_the_api(app: RunningApp, db_url: str) -> None:
    add_override(
        app,
        rotation="leadership",
        staff="ana",
        start="2026-12-07T18:00:00-05:00",
        end="2026-12-08T06:00:00-05:00",
    )
    api_answer = oncall(app, MONDAY_NIGHT)
    as_json = cli(db_url, "--at", MONDAY_NIGHT, "--json")
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout) == api_answer
    assert rotation(api_answer, "leadership")["staff"] == "ana"

    text = cli(db_url, "--at", MONDAY_NIGHT)
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    (after_hours,) = [line for line in lines if line.strip().startswith("after-hours")]
    (leadership,) = [line for line in lines if line.strip().startswith("leadership")]
    assert "Raj Patel (raj)" in after_hours
    assert "until Tue 2026-12-08 09:00 EST" in after_hours
    assert "Ana Ortiz (ana)" in leadership and "override" in leadership
    # Under each rotation, the next *other* person and when they take over: Raj has the
    # nights until his week ends; Jim's first closed hour is Monday's lunch (12:00-13:00).
    after_next = lines[lines.index(after_hours) + 1].strip()
    assert after_next == (
        "next other person on call: Jim Miller (jim), from Mon 2026-12-14 12:00 EST"
    )
    assert lines[lines.index(leadership) + 1].strip() == (
        "next other person on call: Kim Lee (kim), from Tue 2026-12-08 06:00 EST"
    )
    # Without an offset, --at is the agency's wall time: the same instant, the same answer.
    local = cli(db_url, "--at", "2026-12-07T20:00", "--json")
    assert json.loads(local.stdout) == api_answer


def test_the_cli_says_nobody_else_for_one_person_and_when_someone_starts(
    app: RunningApp, db_url: str
) -> None:
    # Tuesday morning: the office is open, so nobody has the after-hours rotation until 17:30,
    # when Raj (still his week) takes it; Kim is the whole leadership rotation.
    text = cli(db_url, "--at", "2026-12-08T10:00:00-05:00")
    assert text.returncode == 0, text.stderr
    lines = [line.strip() for line in text.stdout.splitlines()]
    at = lines.index("after-hours  nobody, until Tue 2026-12-08 17:30 EST")
    assert lines[at + 1] == "next on call: Raj Patel (raj), from Tue 2026-12-08 17:30 EST"
    at = lines.index("leadership   Kim Lee (kim), with no change ahead")
    assert lines[at + 1] == "next other person on call: nobody else"


def test_the_cli_says_so_when_the_database_is_not_migrated(tmp_path: Path) -> None:
    result = cli(f"sqlite:///{tmp_path / 'empty.db'}", "--at", MONDAY_NIGHT)
    assert result.returncode == 1
    assert "partnerline db upgrade" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_cli_says_so_when_the_database_is_unreachable() -> None:
    result = cli("postgresql://nobody@127.0.0.1:9/none", "--at", MONDAY_NIGHT)
    assert result.returncode == 1
    assert "cannot reach the database" in result.stderr
    assert "Traceback" not in result.stderr


# ---------------------------------------------------------------------------- refusals


def test_every_oncall_route_needs_a_token(app: RunningApp) -> None:
    with httpx.Client(base_url=app.url, timeout=10) as anonymous:
        responses = [
            anonymous.get("/api/oncall"),
            anonymous.get("/api/overrides"),
            anonymous.post("/api/overrides", json={}),
            anonymous.delete("/api/overrides/1"),
            anonymous.get("/api/oncall", headers={"Authorization": "Bearer wrong"}),
        ]
    for response in responses:
        assert response.status_code == 401
        assert response.json() == {"detail": "authentication required"}


BAD_OVERRIDES: list[tuple[dict[str, str], int, str | None]] = [
    ({"rotation": "nights", "staff": "ana"}, 400, "unknown_rotation"),
    ({"rotation": "after-hours", "staff": "bob"}, 400, "unknown_staff"),
    (
        {"start": "2026-12-08T06:00:00-05:00", "end": "2026-12-08T05:00:00-05:00"},
        400,
        "override_empty",
    ),
    (
        {"start": "2026-12-08T06:00:00-05:00", "end": "2026-12-08T06:00:00-05:00"},
        400,
        "override_empty",
    ),
    ({"end": "2028-12-08T05:00:00-05:00"}, 400, "override_too_long"),
    ({"start": "2026-12-08T01:00:00"}, 422, None),  # no offset
    ({"end": "tomorrow"}, 422, None),
]


def test_bad_overrides_are_refused_and_nothing_is_stored(app: RunningApp) -> None:
    good = {
        "rotation": "after-hours",
        "staff": "ana",
        "start": "2026-12-07T18:00:00-05:00",
        "end": "2026-12-08T06:00:00-05:00",
    }
    with app.api() as api:
        for body, status, code in BAD_OVERRIDES:
            response = api.post("/api/overrides", json=good | body)
            assert response.status_code == status, (body, response.text)
            assert response.json()["detail"], body
            if code is not None:
                assert response.json()["code"] == code, body
        listed = api.get("/api/overrides").json()
        # Any staff member may cover, not only the rotation's members.
        outsider = api.post("/api/overrides", json=good | {"staff": "kim"})
    assert listed == {"items": [], "next_cursor": None}
    assert outsider.status_code == 201


def test_a_bad_at_is_a_json_400_naming_it(app: RunningApp) -> None:
    with app.api() as api:
        for at, code in (
            ("yesterday", "bad_time"),
            ("2026-12-07T20:00", "naive_time"),
            ("2026-13-01T00:00:00Z", "bad_time"),
        ):
            response = api.get("/api/oncall", params={"at": at})
            assert response.status_code == 400, at
            assert response.json()["code"] == code, at
            assert response.json()["detail"].startswith("at"), at


def test_overrides_are_listed_newest_first_and_paged(app: RunningApp) -> None:
    ids = [
        add_override(
            app,
            rotation="after-hours",
            staff=staff,
            start=f"2026-12-{day}T18:00:00-05:00",
            end=f"2026-12-{day}T23:00:00-05:00",
        )["id"]
        for day, staff in (("08", "ana"), ("09", "jim"), ("10", "kim"))
    ]
    with app.api() as api:
        first = api.get("/api/overrides", params={"limit": 2}).json()
        second = api.get("/api/overrides", params={"limit": 2, "cursor": first["next_cursor"]})
        kim = api.get("/api/overrides", params={"staff": "kim"}).json()
    assert [o["id"] for o in first["items"]] == [ids[2], ids[1]]
    assert first["items"][0]["name"] == "Kim Lee"
    assert [o["id"] for o in second.json()["items"]] == [ids[0]]
    assert second.json()["next_cursor"] is None
    assert [o["id"] for o in kim["items"]] == [ids[2]]


# ---------------------------------------------------------------------------- calendar feeds


def fetch(app: RunningApp, path: str) -> httpx.Response:
    return httpx.get(app.url + path, timeout=10)


def test_a_rotation_feed_holds_the_override_and_keeps_its_uids(
    app: RunningApp, clock: FrozenClock
) -> None:
    created = add_override(
        app,
        rotation="after-hours",
        staff="kim",
        start="2026-12-09T20:00:00-05:00",
        end="2026-12-10T02:00:00-05:00",
    )
    response = fetch(app, feed_path(SECRET, "rotation", "after-hours"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    cal = Calendar.from_ical(response.content)
    events = list(cal.walk("VEVENT"))
    kim = [e for e in events if str(e["SUMMARY"]) == "On call: Kim Lee (after-hours)"]
    assert [(e["DTSTART"].dt, e["DTEND"].dt) for e in kim] == [
        (datetime(2026, 12, 10, 1, 0, tzinfo=UTC), datetime(2026, 12, 10, 7, 0, tzinfo=UTC))
    ]
    assert f"override{created['id']}" in str(kim[0]["UID"])
    # Raj's Wednesday night is cut around Kim's hours, not overlapping them.
    for event in events:
        if str(event["SUMMARY"]).startswith("On call: Raj"):
            assert not (
                event["DTSTART"].dt < kim[0]["DTEND"].dt
                and event["DTEND"].dt > kim[0]["DTSTART"].dt
            )

    again = Calendar.from_ical(fetch(app, feed_path(SECRET, "rotation", "after-hours")).content)
    assert [str(e["UID"]) for e in again.walk("VEVENT")] == [str(e["UID"]) for e in events]

    clock.advance(timedelta(days=1, hours=3))
    later = {
        str(e["UID"]): e
        for e in Calendar.from_ical(
            fetch(app, feed_path(SECRET, "rotation", "after-hours")).content
        ).walk("VEVENT")
    }
    earlier = {str(e["UID"]): e for e in events}
    shared = earlier.keys() & later.keys()
    assert len(shared) >= len(earlier) - 3
    assert all(earlier[u]["DTSTART"].dt == later[u]["DTSTART"].dt for u in shared)


def test_a_staff_feed_shows_that_persons_time_only(app: RunningApp) -> None:
    response = fetch(app, feed_path(SECRET, "staff", "raj"))
    assert response.status_code == 200
    cal = Calendar.from_ical(response.content)
    assert "Raj Patel" in str(cal["X-WR-CALNAME"])
    summaries = {str(e["SUMMARY"]) for e in cal.walk("VEVENT")}
    assert summaries == {"On call: Raj Patel (after-hours)"}


REFUSED_FEEDS = [
    "/calendars/staff/ana.ics",
    "/calendars/staff/ana.ics?token=",
    "/calendars/staff/ana.ics?token=" + "0" * 64,
    # Raj's token does not open Ana's feed, nor a rotation's with the same id.
    feed_path(SECRET, "staff", "raj").replace("/raj.ics", "/ana.ics"),
    feed_path(SECRET, "staff", "after-hours").replace("/staff/", "/rotations/"),
    # An unknown id with a made-up token is refused just like a known one: no id is revealed.
    "/calendars/rotations/nights.ics?token=" + "0" * 64,
]


def test_a_feed_without_its_token_is_refused(app: RunningApp) -> None:
    for path in REFUSED_FEEDS:
        response = fetch(app, path)
        assert response.status_code == 403, path
        assert response.json() == {"detail": "invalid or missing feed token"}, path


def test_a_good_token_for_an_id_not_configured_is_not_found(app: RunningApp) -> None:
    response = fetch(app, feed_path(SECRET, "rotation", "nights"))
    assert response.status_code == 404
    assert response.json()["detail"]


def test_feeds_are_off_without_a_secret_key(
    db_url: str, twilio: TwilioStandIn, clock: FrozenClock
) -> None:
    with running_app(db_url, twilio.url, clock=clock, PARTNERLINE_SECRET_KEY=None) as bare:
        response = fetch(bare, feed_path(SECRET, "staff", "ana"))
    assert response.status_code == 404
    assert "PARTNERLINE_SECRET_KEY" in response.json()["detail"]
