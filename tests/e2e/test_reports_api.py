"""Promise reports through the staff API, on SQLite and PostgreSQL: a day made through signed
Twilio webhooks and the API with a frozen clock, then read back as figures, as CSV and as
JSON rows, by an admin and by a staff member who sees only their clients and themselves."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from adapters.standins.twilio import TwilioStandIn
from routing.clock import FrozenClock
from tests.browser.inbox_support import add_login, csrf_from, inbox_app, signed_in
from tests.e2e.test_sms_flow import eventually
from tests.support.app import LOOPBACK_TLS, RunningApp

DETROIT = ZoneInfo("America/Detroit")
MONDAY = datetime(2026, 12, 7, 10, 0, tzinfo=DETROIT)
DANA, LUCY = "+13135550142", "+13135550150"
DAY = "from=2026-12-07&to=2026-12-07"
sids = iter(range(1, 1000))


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(MONDAY)


@pytest.fixture
def web(db_url: str, twilio: TwilioStandIn, clock: FrozenClock) -> Iterator[RunningApp]:
    with inbox_app(db_url, twilio.url, clock=clock) as running:
        add_login(running.container, "ana", "ana")
        add_login(running.container, "raj", "raj")
        yield running


def writes(web: RunningApp, sender: str, text: str) -> int:
    sid = f"SM{next(sids):032d}"
    assert web.post_sms(web.sms_form(sid, sender, text)).status_code == 200
    with web.api() as api:
        items = api.get("/api/conversations", params={"q": text}).json()["items"]
    return int(items[0]["id"])


def state_of(web: RunningApp, conv: int) -> str:
    with web.api() as api:
        return str(api.get(f"/api/conversations/{conv}").json()["commitment"]["state"])


def make_day(web: RunningApp, clock: FrozenClock) -> dict[str, int]:
    """Monday: Dana (Acme, priority) writes at 10:00 and Ana answers at 10:10; Lucy
    (Brightside, standard: 4 business hours, due 15:00) writes at 10:00 and the admin answers
    at 15:30, late. At 19:00 Dana writes again: after hours, acknowledged, Raj paged."""
    dana = writes(web, DANA, "Is the launch still on?")
    lucy = writes(web, LUCY, "Tasting on Friday?")
    clock.set(MONDAY + timedelta(minutes=10))
    with signed_in(web.url, "ana") as ana:
        token = csrf_from(ana.get(f"/inbox/conversations/{dana}").text)
        sent = ana.post(
            f"/api/conversations/{dana}/reply",
            json={"text": "Yes, Thursday."},
            headers={"X-CSRF-Token": token},
        )
        assert sent.status_code == 202, sent.text
    clock.set(MONDAY.replace(hour=15, minute=30))
    eventually(lambda: state_of(web, lucy) == "breached")
    with web.api() as api:
        late = api.post(f"/api/conversations/{lucy}/reply", json={"text": "Yes!"})
        assert late.status_code == 202
    clock.set(MONDAY.replace(hour=19))
    assert writes(web, DANA, "One more: the logo?") == dana
    with web.api() as api:
        eventually(lambda: api.get("/api/pages").json()["items"])
    clock.set(MONDAY.replace(hour=19, minute=5))
    return {"dana": dana, "lucy": lucy}


def test_the_figures_the_exports_and_who_sees_what(web: RunningApp, clock: FrozenClock) -> None:
    ids = make_day(web, clock)
    with web.api() as api:
        summary = api.get(f"/api/reports/summary?{DAY}").json()
        clients = api.get(f"/api/reports/clients?{DAY}").json()
        staff = api.get(f"/api/reports/staff?{DAY}").json()
        exported = api.get(f"/api/reports/clients?{DAY}&format=csv")
        rows = api.get(f"/api/reports/clients?{DAY}&format=rows").json()
        notes_csv = api.get(f"/api/reports/staff?{DAY}&format=csv")
        notes = api.get(f"/api/reports/staff?{DAY}&format=rows").json()

    promises = summary["promises"]
    assert (promises["started"], promises["met"], promises["breached"], promises["pending"]) == (
        3,
        1,
        1,
        1,
    )
    assert promises["attainment"] == 0.5 and promises["late_answers"] == 1
    assert summary["speed"]["first_wall"]["count"] == 2
    assert summary["speed"]["first_wall"]["max"] == 5.5 * 3600
    assert summary["speed"]["first_business"]["max"] == 4.5 * 3600  # the lunch hour is closed
    assert summary["after_hours"]["acknowledgements"] == 1
    assert summary["after_hours"]["pages_opened"] == 1
    assert summary["period"]["zone"] == "America/Detroit"
    assert summary["period"]["start"].startswith("2026-12-07T00:00:00-05:00")
    assert [g["key"] for g in summary["by_staff"]] == ["admin", "ana", None]
    assert [w["week"] for w in summary["trend"]] == ["2026-12-07"]

    by_client = {c["key"]: c for c in clients["items"]}
    assert by_client["acme"]["attainment"] == 1.0 and by_client["acme"]["name"] == "Acme Robotics"
    assert by_client["acme"]["speed"]["next_wall"]["count"] == 0
    assert by_client["brightside"]["attainment"] == 0.0

    people = {p["staff"]: p for p in staff["items"]}
    assert set(people) == {"jim", "ana", "raj", "kim"}
    assert people["raj"]["pages_received"] == 1
    assert people["kim"]["on_call_hours"] == 24.0  # leadership holds the whole day
    assert people["kim"]["night_hours"] == 9.0
    assert {f["rotation"] for f in staff["fairness"]} == {"after-hours", "leadership"}

    # The CSV and the JSON rows: one row per commitment, the same columns and values.
    assert exported.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(exported.text)))
    assert table[0] == rows["columns"]
    assert len(table) - 1 == len(rows["items"]) == 3
    for line, item in zip(table[1:], rows["items"], strict=True):
        assert line == [_csv(item[c]) for c in rows["columns"]]
    outcomes = {(r["conversation_id"], r["outcome"]) for r in rows["items"]}
    assert outcomes == {(ids["dana"], "met"), (ids["lucy"], "breached"), (ids["dana"], "pending")}
    late = next(r for r in rows["items"] if r["outcome"] == "breached")
    assert late["late_by_seconds"] == 1800 and late["answered_by"] == "admin"
    assert late["started_at"] == "2026-12-07T10:00:00-05:00"

    note_table = list(csv.reader(io.StringIO(notes_csv.text)))
    assert note_table[0] == notes["columns"] and len(note_table) == 1 + len(notes["items"])
    assert [(n["staff"], n["step"]) for n in notes["items"]] == [("raj", 1)]


def _csv(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def test_a_staff_member_sees_their_clients_and_themselves(
    web: RunningApp, clock: FrozenClock
) -> None:
    make_day(web, clock)
    with signed_in(web.url, "raj") as raj:
        clients = raj.get(f"/api/reports/clients?{DAY}").json()
        staff = raj.get(f"/api/reports/staff?{DAY}").json()
        rows = raj.get(f"/api/reports/summary?{DAY}&format=rows").json()
    assert [c["key"] for c in clients["items"]] == ["brightside"]
    assert [p["staff"] for p in staff["items"]] == ["raj"]
    assert {r["client_id"] for r in rows["items"]} == {"brightside"}


def test_refusals(web: RunningApp) -> None:
    with httpx.Client(base_url=web.url, timeout=10, verify=LOOPBACK_TLS) as anon:
        assert anon.get("/api/reports/summary").status_code == 401
    with web.api() as api:
        for query in (
            "zone=Mars/Base",
            "from=2026-12-08&to=2026-12-07",
            "from=yesterday",
            "from=2020-01-01&to=2026-01-01",
        ):
            answer = api.get(f"/api/reports/summary?{query}")
            assert answer.status_code == 400, query
            assert answer.json()["code"] in {"bad_zone", "bad_period", "bad_date"}
        assert api.get("/api/reports/summary?format=xml").status_code == 422
        # No period given: the last 28 days up to today.
        period = api.get("/api/reports/summary").json()["period"]
        assert period["start"].startswith("2026-11-10") and period["end"].startswith("2026-12-08")
