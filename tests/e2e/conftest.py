from __future__ import annotations

from collections.abc import Iterator

import pytest

from adapters.standins.twilio import TwilioStandIn
from tests.support.app import ACCOUNT_SID, AUTH_TOKEN, RunningApp, running_app


@pytest.fixture(scope="session")
def twilio_server() -> Iterator[TwilioStandIn]:
    with TwilioStandIn(ACCOUNT_SID, AUTH_TOKEN) as standin:
        yield standin


@pytest.fixture
def twilio(twilio_server: TwilioStandIn) -> TwilioStandIn:
    twilio_server.reset()
    return twilio_server


@pytest.fixture
def app(db_url: str, twilio: TwilioStandIn) -> Iterator[RunningApp]:
    with running_app(db_url, twilio.url) as running:
        yield running
