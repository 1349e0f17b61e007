from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from adapters.standins.slack import SlackStandIn
from adapters.standins.telegram import TelegramStandIn
from adapters.standins.twilio import TwilioStandIn
from routing.clock import OffsetClock
from tests.support.app import ACCOUNT_SID, AUTH_TOKEN, RunningApp, running_app
from tests.support.processes import Partnerline


@pytest.fixture(scope="session")
def twilio_server() -> Iterator[TwilioStandIn]:
    with TwilioStandIn(ACCOUNT_SID, AUTH_TOKEN) as standin:
        yield standin


@pytest.fixture
def twilio(twilio_server: TwilioStandIn) -> TwilioStandIn:
    twilio_server.reset()
    return twilio_server


# A Monday morning in Detroit, inside business hours: the plain SMS stories need no
# after-hours acknowledgement in the way. Time flows from there in real time.
MONDAY_MORNING = datetime(2026, 12, 7, 10, 0, tzinfo=ZoneInfo("America/Detroit"))


@pytest.fixture
def app(db_url: str, twilio: TwilioStandIn) -> Iterator[RunningApp]:
    with running_app(db_url, twilio.url, clock=OffsetClock(MONDAY_MORNING)) as running:
        yield running


SLACK_TOKEN = "xoxb-test-slack-token"
SLACK_SECRET = "test-slack-signing-secret"


@pytest.fixture(scope="module")
def slack_server() -> Iterator[SlackStandIn]:
    """The Slack stand-in of a module (a module with other credentials overrides it)."""
    with SlackStandIn(SLACK_TOKEN, SLACK_SECRET) as standin:
        yield standin


@pytest.fixture
def slack(slack_server: SlackStandIn) -> SlackStandIn:
    slack_server.reset()
    return slack_server


TELEGRAM_TOKEN = "123456:TEST-telegram-token"
TELEGRAM_SECRET = "test-telegram-secret"


@pytest.fixture(scope="module")
def telegram_server() -> Iterator[TelegramStandIn]:
    """The Telegram stand-in of a module (a module with another token overrides it)."""
    with TelegramStandIn(TELEGRAM_TOKEN) as standin:
        yield standin


@pytest.fixture
def tg(telegram_server: TelegramStandIn) -> TelegramStandIn:
    telegram_server.reset()
    return telegram_server


@pytest.fixture
def started(request: pytest.FixtureRequest) -> Iterator[list[Partnerline]]:
    """Processes a test starts, stopped afterwards whatever happened; if the test failed,
    their logs are printed (pytest shows them with the failure)."""
    processes: list[Partnerline] = []
    failed_before = request.session.testsfailed
    yield processes
    for process in processes:
        process.stop()
    if request.session.testsfailed > failed_before:
        for process in processes:
            print(f"\n--- log of `partnerline {process.command}` ({process.log}):")
            print(process.log_tail(20_000))
