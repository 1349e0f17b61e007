"""Every configuration `partnerline check` accepts works (issue 10, point 2).

Hypothesis writes configurations as TOML text: calendars that never open, are open 00:00-24:00,
open one hour a week or close only on holidays, in zones east and west of UTC; rotations of one
person and after-hours-only rotations on any of those; tiers with and without
"next_business_day"; escalations whose targets may name nobody right now. Each is loaded by the
real loader and run by the real app and worker on SQLite, in process (Starlette's TestClient
runs the app's lifespan, and so its worker), against the provider stand-ins on loopback, with
the clock frozen at generated instants (DST edges among them). Client messages arrive as signed
Twilio webhooks; Slack's and Telegram's `/oncall` as signed (or secret-bearing) webhooks.

Then: every message is filed (a message row in a conversation), nothing raised (no inbound
delivery or timer failed or retried, no log record at ERROR), and `GET /api/oncall`,
`partnerline oncall`, the inbox's on-call page and Slack's and Telegram's `/oncall` answer.
Assertions are on outcomes only, so they hold however the worker splits its work.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, or_, select
from starlette.exceptions import StarletteDeprecationWarning

from adapters.standins.slack import SlackStandIn
from adapters.standins.telegram import SECRET_HEADER, TelegramStandIn
from adapters.standins.twilio import TwilioStandIn
from bot.bootstrap import build_container, create_app
from bot.cli import main as cli_main
from bot.config import check_text
from bot.usecases.accounts import StaffAccounts
from routing.clock import FrozenClock
from storage.accounts import StaffAccountRepository
from storage.db import Database
from storage.migrate import upgrade
from storage.tables import Base, InboundDeliveryRow, OutboxRow, TimerRow
from tests.browser.inbox_support import PASSWORD, csrf_from
from tests.support.app import ADMIN_TOKEN, AGENCY_NUMBER, app_settings
from tests.support.twilio_signing import signed_form_post_headers

with warnings.catch_warnings():
    # Starlette 1.x would rather its TestClient ran on httpx2; httpx, which the rest of the
    # suite uses, still works. The in-process client saves a server start per example.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

SLACK_TOKEN = "xoxb-any-config-token"
SLACK_SECRET = "any-config-slack-secret"
TELEGRAM_TOKEN = "123456:ANY-config-token"
TELEGRAM_SECRET = "any-config-telegram-secret"
FILE = "any.toml"
# The app is driven in process (Starlette's TestClient runs its lifespan, worker included);
# the providers sign for this public URL.
PUBLIC_URL = "http://testserver"
LOGIN = "lead"

# East and west of UTC, half-hour offsets, both hemispheres' DST, and none.
ZONES = [
    "Pacific/Kiritimati",  # UTC+14
    "Asia/Kolkata",  # UTC+05:30
    "Australia/Sydney",  # DST Apr 5 / Oct 4 2026
    "Europe/London",  # DST Mar 29 / Oct 25 2026
    "America/St_Johns",  # UTC-03:30, DST Mar 8 / Nov 1 2026
    "America/Detroit",  # DST Mar 8 / Nov 1 2026
    "Pacific/Pago_Pago",  # UTC-11
]
# The UTC instants of 2026's clock changes in those zones: where bugs would live.
DST_EDGES = [
    datetime(2026, 4, 4, 16, 0, tzinfo=UTC),  # Sydney falls back (03:00 AEDT)
    datetime(2026, 10, 3, 16, 0, tzinfo=UTC),  # Sydney springs forward (02:00 AEST)
    datetime(2026, 3, 29, 1, 0, tzinfo=UTC),  # London
    datetime(2026, 10, 25, 1, 0, tzinfo=UTC),
    datetime(2026, 3, 8, 5, 30, tzinfo=UTC),  # St John's
    datetime(2026, 11, 1, 4, 30, tzinfo=UTC),
    datetime(2026, 3, 8, 7, 0, tzinfo=UTC),  # Detroit
    datetime(2026, 11, 1, 6, 0, tzinfo=UTC),
]
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


# ---------------------------------------------------------------- configurations as TOML text


def q(value: str) -> str:
    return json.dumps(value)  # a TOML basic string, for the plain text used here


def qs(values: list[str]) -> str:
    return "[" + ", ".join(q(v) for v in values) + "]"


@st.composite
def calendars(draw: st.DrawFn, name: str) -> tuple[str, str]:
    """A `[hours.NAME]` section, and its shape."""
    zone = draw(st.sampled_from(ZONES))
    shape = draw(st.sampled_from(["never", "always", "one_hour", "holidays_only", "office"]))
    lines = [f"[hours.{name}]", f"timezone = {q(zone)}"]
    if shape in ("always", "holidays_only"):
        lines += [f'{day} = ["00:00-24:00"]' for day in DAYS]
    elif shape == "one_hour":
        day = draw(st.sampled_from(DAYS))
        hour = draw(st.sampled_from([0, 1, 2, 9, 23]))  # 01-03: inside some DST changes
        lines.append(f'{day} = ["{hour:02d}:00-{hour + 1:02d}:00"]')
    elif shape == "office":
        lines += [f'{day} = ["09:00-12:00", "13:00-17:30"]' for day in DAYS[:5]]
    if shape == "holidays_only" or (shape == "office" and draw(st.booleans())):
        country = draw(st.sampled_from(["AU", "IN", "CA", "GB", "US"]))
        lines.append(f'holidays = {{ country = "{country}" }}')
    if shape != "never" and draw(st.booleans()):
        closed = draw(st.lists(st.dates(date(2026, 1, 1), date(2027, 12, 31)), max_size=3))
        lines.append("closed = " + qs([d.isoformat() for d in closed]))
    return "\n".join(lines), shape


@dataclass
class Generated:
    text: str
    contacts: list[str]  # client SMS numbers
    staff_telegram: int
    staff_slack: str
    staff_id: str
    shapes: list[str] = field(default_factory=list)


@st.composite
def configurations(draw: st.DrawFn) -> Generated:
    sections = ["[agency]", 'name = "Any Agency"', f"timezone = {q(draw(st.sampled_from(ZONES)))}"]
    calendar_names = ["main", "other"][: draw(st.integers(1, 2))]
    shapes = []
    for name in calendar_names:
        text, shape = draw(calendars(name))
        sections += ["", text]
        shapes.append(shape)

    tiers = ["gold", "basic"][: draw(st.integers(1, 2))]
    for tier in tiers:
        page = draw(st.sampled_from(["never", "after_hours", "always"]))
        after = draw(st.sampled_from(["1h", "20m", "next_business_day"]))
        sections += [
            "",
            f"[commitments.{tier}]",
            f"hours = {q(draw(st.sampled_from(calendar_names)))}",
            f"business = {q(draw(st.sampled_from(['30m', '4h', '2d'])))}",
            f"after_hours = {q(after)}",
            f"page_oncall = {q(page)}",
            f'at_risk = "{draw(st.sampled_from([50, 75, 90]))}%"',
        ]
        if draw(st.booleans()):
            oncall = " {oncall_first_name} is on call." if page != "never" else ""
            sections.append(
                f'auto_reply = "Thanks {{contact_first_name}}, {{agency}} here.{oncall}'
                ' Expect us by {due_local}."'
            )

    staff_ids = ["ana", "raj", "kim"][: draw(st.integers(1, 3))]
    notify_choices = [["sms"], ["telegram", "sms@5m"], ["slack", "voice@1m"], ["sms", "slack@2m"]]
    for index, staff in enumerate(staff_ids):
        sections += [
            "",
            "[[staff]]",
            f"id = {q(staff)}",
            f"name = {q(staff.title() + ' Person')}",
            f'sms = "+1313555020{index}"',
            f"telegram = {100000100 + index}",
            f'slack = "U0STAFF00{index}"',
            f"notify = {qs(draw(st.sampled_from(notify_choices)))}",
        ]

    rotation_ids: dict[str, int] = {}
    for rid in ["night", "day"][: draw(st.integers(0, 2))]:
        members = draw(st.lists(st.sampled_from(staff_ids), min_size=1, max_size=3, unique=True))
        start = draw(st.sampled_from(["2026-01-05T09:00", "2026-03-08T02:30", "2026-10-04T02:30"]))
        lines = [
            "",
            "[[rotations]]",
            f"id = {q(rid)}",
            f"members = {qs(members)}",
            f"start = {q(start)}",
            f"shift = {q(draw(st.sampled_from(['8h', '12h', '1d', '1w'])))}",
        ]
        if draw(st.booleans()):
            lines.append(f"hours = {q(draw(st.sampled_from(calendar_names)))}")
            if draw(st.booleans()):
                lines.append('only = "after_hours"')
        sections += lines
        rotation_ids[rid] = len(members)

    targets = ["account_team", *(f"staff:{s}" for s in staff_ids)]
    for rid, count in rotation_ids.items():
        targets.append(f"rotation:{rid}")
        if count > 1:
            targets.append(f"rotation:{rid}+1")
    escalation = draw(st.booleans())
    if escalation:
        steps = []
        for _ in range(draw(st.integers(1, 3))):
            chosen = draw(st.lists(st.sampled_from(targets), min_size=1, max_size=2, unique=True))
            wait = draw(st.sampled_from(["1m", "10m", "30m"]))
            steps.append(f"  {{ notify = {qs(chosen)}, wait = {q(wait)} }},")
        sections += ["", "[escalations.main]", "steps = [", *steps, "]"]
        sections.append(f"repeat = {draw(st.integers(0, 2))}")

    contacts: list[str] = []
    for index, client in enumerate(["acme", "zenith"][: draw(st.integers(1, 2))]):
        team = draw(st.lists(st.sampled_from(staff_ids), min_size=1, max_size=2, unique=True))
        lines = [
            "",
            "[[clients]]",
            f"id = {q(client)}",
            f"name = {q(client.title())}",
            f"commitment = {q(draw(st.sampled_from(tiers)))}",
            f"account_team = {qs(team)}",
        ]
        if escalation and draw(st.booleans()):
            lines.append('escalation = "main"')
        if draw(st.booleans()):
            lines.append(f"timezone = {q(draw(st.sampled_from(ZONES)))}")
        number = f"+1313555014{index}"
        lines += [
            "",
            "[[clients.contacts]]",
            f'name = "Client {index} Contact"',
            f"sms = {q(number)}",
        ]
        sections += lines
        contacts.append(number)

    sections += [
        "",
        "[unknown_senders]",
        f"commitment = {q(draw(st.sampled_from(tiers)))}",
        f"account_team = {qs(staff_ids[:1])}",
        "",
        "[channels.sms]",
        f"from = {q(AGENCY_NUMBER)}",
        "",
        "[channels.telegram]",
        "",
        "[channels.slack]",
    ]
    if draw(st.booleans()):
        sections.append('staff_channel = "C0INBOX000"')
    return Generated(
        "\n".join(sections) + "\n", contacts, 100000100, "U0STAFF000", staff_ids[0], shapes
    )


@st.composite
def instants(draw: st.DrawFn) -> list[datetime]:
    """Two to four increasing instants, starting near a DST change or anywhere in 2026-27."""
    start = draw(
        st.one_of(
            st.sampled_from(DST_EDGES).flatmap(
                lambda edge: st.integers(-3 * 3600, 3 * 3600).map(
                    lambda s: edge + timedelta(seconds=s)
                )
            ),
            st.datetimes(datetime(2026, 1, 6), datetime(2027, 12, 20), timezones=st.just(UTC)),
        )
    )
    gaps = draw(st.lists(st.integers(0, 36 * 3600), min_size=1, max_size=3))
    found = [start]
    for gap in gaps:
        found.append(found[-1] + timedelta(seconds=gap))
    return found


# ---------------------------------------------------------------- one app per example, shared parts


class ErrorRecords(logging.Handler):
    """Collects every log record at ERROR or above, from any thread."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class Shared:
    db_url: str
    db: Database
    twilio: TwilioStandIn
    slack: SlackStandIn
    telegram: TelegramStandIn
    clock: FrozenClock
    errors: ErrorRecords
    tmp: Path


@pytest.fixture(scope="module")
def shared(
    tmp_path_factory: pytest.TempPathFactory, twilio_server: TwilioStandIn
) -> Iterator[Shared]:
    tmp = tmp_path_factory.mktemp("any_config")
    url = f"sqlite:///{tmp / 'partnerline.db'}"
    upgrade(url)
    clock = FrozenClock(datetime(2026, 1, 1, tzinfo=UTC))
    errors = ErrorRecords()
    logging.getLogger().addHandler(errors)
    db = Database(url)
    with db.session() as session:
        # The staff id is in every generated configuration (its first staff member).
        StaffAccounts(StaffAccountRepository(session)).add(
            LOGIN, "ana", PASSWORD, is_admin=True, now=clock.now()
        )
        session.commit()
    try:
        with (
            SlackStandIn(SLACK_TOKEN, SLACK_SECRET) as slack,
            TelegramStandIn(TELEGRAM_TOKEN, clock=clock) as telegram,
        ):
            yield Shared(url, db, twilio_server, slack, telegram, clock, errors, tmp)
    finally:
        logging.getLogger().removeHandler(errors)
        db.dispose()


def empty_but_logins(db: Database) -> None:
    """Every table emptied except the inbox logins (adding one hashes a password)."""
    with db.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name != "staff_accounts":
                conn.execute(delete(table))


@contextlib.contextmanager
def running(shared: Shared, generated: Generated) -> Iterator[tuple[Any, TestClient]]:
    """The app (web half and worker in one process, as `serve` runs it) for this configuration."""
    config, found = check_text(generated.text, FILE)
    assert found == [] and config is not None, "\n".join(str(p) for p in found)
    settings_ = app_settings(
        shared.db_url,
        shared.twilio.url,
        PUBLIC_URL,
        SLACK_BOT_TOKEN=SLACK_TOKEN,
        SLACK_SIGNING_SECRET=SLACK_SECRET,
        SLACK_API_URL=shared.slack.api_url,
        TELEGRAM_BOT_TOKEN=TELEGRAM_TOKEN,
        TELEGRAM_WEBHOOK_SECRET=TELEGRAM_SECRET,
        TELEGRAM_API_URL=shared.telegram.api_url,
        PARTNERLINE_WORKER_MAX_SLEEP=0.05,
    )
    container = build_container(settings_, config, clock=shared.clock)
    try:
        with TestClient(create_app(container, run_worker=True), base_url=PUBLIC_URL) as client:
            yield container, client
    finally:
        container.db.dispose()


def settle(container: Any, timeout: float = 20.0) -> None:
    """Until the worker has nothing due at the frozen now: journal routed, timers fired,
    outbox handed over (rows waiting out a backoff are due later, so they do not count)."""
    container.wakeup.notify()
    deadline = time.monotonic() + timeout
    while True:
        now = container.clock.now()
        with container.services.uow() as uow:
            session = uow.session
            busy = session.execute(
                select(func.count())
                .select_from(InboundDeliveryRow)
                .where(InboundDeliveryRow.state == "pending")
                .where(
                    or_(
                        InboundDeliveryRow.next_attempt_at.is_(None),
                        InboundDeliveryRow.next_attempt_at <= now,
                    )
                )
            ).scalar_one()
            busy += session.execute(
                select(func.count())
                .select_from(TimerRow)
                .where(TimerRow.state == "pending", TimerRow.due_at <= now)
            ).scalar_one()
            busy += session.execute(
                select(func.count())
                .select_from(OutboxRow)
                .where(
                    or_(
                        OutboxRow.state == "sending",
                        (OutboxRow.state == "pending") & (OutboxRow.next_attempt_at <= now),
                    )
                )
            ).scalar_one()
        if busy == 0:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"the worker left {busy} items due at {now.isoformat()}")
        time.sleep(0.01)


def post_sms(container: Any, client: TestClient, sid: str, sender: str, body: str) -> int:
    params = {
        "MessageSid": sid,
        "SmsSid": sid,
        "AccountSid": container.settings.twilio_account_sid,
        "From": sender,
        "To": AGENCY_NUMBER,
        "Body": body,
        "NumMedia": "0",
        "ApiVersion": "2010-04-01",
    }
    path = "/webhooks/twilio/sms"
    token = container.settings.twilio_auth_token.get_secret_value()
    headers, content = signed_form_post_headers(token, PUBLIC_URL + path, params)
    return client.post(path, content=content, headers=headers).status_code


def filed_texts(client: TestClient) -> list[str]:
    api = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    listing = client.get("/api/conversations", params={"limit": 500}, headers=api)
    assert listing.status_code == 200, listing.text
    texts = []
    for conv in listing.json()["items"]:
        detail = client.get(f"/api/conversations/{conv['id']}", headers=api)
        assert detail.status_code == 200, detail.text
        texts += [m["text"] for m in detail.json()["messages"] if m["direction"] == "in"]
    return texts


def cli_oncall(shared: Shared, config_path: Path, at: datetime) -> tuple[int, str]:
    """`partnerline oncall --at ... --config ...`, run in this process."""
    saved = {k: os.environ.get(k) for k in ("DATABASE_URL", "PARTNERLINE_SECRET_KEY")}
    os.environ["DATABASE_URL"] = shared.db_url
    os.environ["PARTNERLINE_SECRET_KEY"] = "test-secret-key"
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            code = cli_main(["oncall", "--config", str(config_path), "--at", at.isoformat()])
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return code, out.getvalue()


def inbox_session(shared: Shared, client: TestClient) -> None:
    """Sign `client` in through the login form. Once per example: sessions live on the
    server and expire by the example's own (frozen, generated) clock."""
    form = client.get("/login")
    response = client.post(
        "/login",
        data={"username": LOGIN, "password": PASSWORD, "csrf_token": csrf_from(form.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


# ---------------------------------------------------------------- the property


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(generated=configurations(), when=instants(), data=st.data())
def test_every_configuration_check_accepts_files_every_message_and_answers(
    shared: Shared, generated: Generated, when: list[datetime], data: st.DataObject
) -> None:
    for shape in generated.shapes:
        event(f"calendar: {shape}")
    empty_but_logins(shared.db)
    for standin in (shared.twilio, shared.slack, shared.telegram):
        standin.reset()
    shared.errors.records.clear()
    shared.clock.set(when[0] - timedelta(minutes=1))
    senders = [*generated.contacts, "+447700900188"]  # and a sender nobody configured
    sent: list[str] = []

    with running(shared, generated) as (container, client):
        for n, at in enumerate(when):
            shared.clock.set(at)
            sender = data.draw(st.sampled_from(senders), label="sender")
            body = f"message {n} at {at.isoformat()}"
            assert post_sms(container, client, f"SM{n:032d}", sender, body) == 200
            sent.append(body)
            settle(container)
            # Let commitments, acknowledgements, page steps and handoffs fall due.
            shared.clock.advance(timedelta(minutes=data.draw(st.integers(0, 90), label="later")))
            settle(container)

        # Every message is filed: a message row in a conversation.
        assert sorted(filed_texts(client)) == sorted(sent)

        # The on-call API answers, now and at each instant.
        for at in [None, *when]:
            params = {"at": at.isoformat()} if at else {}
            answer = client.get(
                "/api/oncall", params=params, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
            )
            assert answer.status_code == 200, answer.text
            rotations = answer.json()["rotations"]
            assert len(rotations) == len(container.config.rotations)
            for r in rotations:
                assert r["until"] is None or datetime.fromisoformat(r["until"]).tzinfo

        # partnerline oncall, as an operator runs it.
        config_path = shared.tmp / FILE
        config_path.write_text(generated.text, encoding="utf-8")
        code, printed = cli_oncall(shared, config_path, when[-1])
        assert code == 0 and printed.startswith("on call at"), printed

        # The inbox's on-call page, signed in.
        inbox_session(shared, client)
        page = client.get("/inbox/oncall")
        assert page.status_code == 200 and "<h1>On call</h1>" in page.text, page.text[:500]

        # Slack's /oncall: Bolt answers the command with the text itself.
        command = shared.slack.slash_command("/oncall", generated.staff_slack, "D0STAFF000")
        form = urlencode(command).encode()
        answer = client.post(
            "/webhooks/slack",
            content=form,
            headers={
                **shared.slack.signed_headers(form),
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        assert answer.status_code == 200 and answer.text.startswith("*On call now:*"), answer.text

        # Telegram's /oncall: the answer goes out through the outbox.
        staff_user = TelegramStandIn.user(generated.staff_telegram, "Ana")
        update = shared.telegram.message_update(staff_user, "/oncall")
        response = client.post(
            "/webhooks/telegram",
            content=json.dumps(update),
            headers={
                "Content-Type": "application/json",
                SECRET_HEADER: TELEGRAM_SECRET,
            },
        )
        assert response.status_code == 200, response.text
        settle(container)
        texts = [m["text"] for m in shared.telegram.sent_to(generated.staff_telegram)]
        assert any(text.startswith("On call now:") for text in texts), texts

        # Nothing raised on the way.
        with container.services.uow() as uow:
            broken_inbound = uow.session.execute(
                select(InboundDeliveryRow.delivery_key, InboundDeliveryRow.last_error).where(
                    or_(
                        InboundDeliveryRow.state == "failed",
                        InboundDeliveryRow.last_error.is_not(None),
                    )
                )
            ).all()
            broken_timers = uow.session.execute(
                select(TimerRow.key, TimerRow.last_error).where(
                    or_(TimerRow.state == "failed", TimerRow.last_error.is_not(None))
                )
            ).all()
    assert broken_inbound == []
    assert broken_timers == []
    errors = [f"{r.name}: {r.getMessage()} {r.exc_text or ''}" for r in shared.errors.records]
    assert errors == []
