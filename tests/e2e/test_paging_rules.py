"""Paging rules that need a clock in hand: a running page keeps the policy it opened with,
and each shift start tells the incoming person what they inherit."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from adapters.standins.twilio import TwilioStandIn
from bot.bootstrap import build_container, build_worker, sync_config
from bot.config import load_config
from bot.container import Container
from routing.clock import FrozenClock
from routing.messages import Channel, InboundMessage
from tests.e2e.test_escalation import STORY_CONFIG
from tests.support.app import EXAMPLE_CONFIG, app_settings

DETROIT = ZoneInfo("America/Detroit")
TUESDAY_EVENING = datetime(2026, 12, 8, 19, 5, tzinfo=DETROIT)


def container_for(
    db_url: str, twilio: TwilioStandIn, config: object, clock: FrozenClock
) -> Container:
    container = build_container(
        app_settings(db_url, twilio.url, "http://localhost:9"),
        load_config(config),  # type: ignore[arg-type]
        clock=clock,
    )
    sync_config(container)
    return container


def run_worker_once(container: Container) -> None:
    async def once() -> None:
        worker = build_worker(container)
        worker.wakeup.bind()
        await asyncio.to_thread(worker.start_up)
        await worker.run_once()

    asyncio.run(once())


def test_a_running_page_keeps_the_policy_it_opened_with(db_url: str, twilio: TwilioStandIn) -> None:
    clock = FrozenClock(TUESDAY_EVENING)
    story = container_for(db_url, twilio, STORY_CONFIG, clock)  # steps 3 s apart
    story.services.receive(
        InboundMessage(Channel.SMS, "SM" + "p" * 32, "+13135550142", "hi", clock.now())
    )
    # The configuration is reloaded: the example waits 10 minutes between steps.
    reloaded = container_for(db_url, twilio, EXAMPLE_CONFIG, clock)
    run_worker_once(reloaded)
    clock.advance(timedelta(seconds=3))
    run_worker_once(reloaded)
    with reloaded.services.uow() as uow:
        [page] = uow.pages.list(None, 10)
    assert page.step == 2  # the 3-second wait of the page's own snapshot, not 10 minutes
    story.db.dispose()
    reloaded.db.dispose()


def test_the_incoming_person_hears_when_the_shift_ends_and_what_they_inherit(
    db_url: str, twilio: TwilioStandIn
) -> None:
    # Monday 14 December, 09:00: the weekly after-hours handoff to Jim (shift 6).
    clock = FrozenClock(datetime(2026, 12, 14, 8, 30, tzinfo=DETROIT))
    container = container_for(db_url, twilio, STORY_CONFIG, clock)
    container.services.receive(
        InboundMessage(Channel.SMS, "SM" + "h" * 32, "+13135550150", "the cake order", clock.now())
    )
    run_worker_once(container)  # start-up schedules each rotation's next handoff
    assert twilio.sent_to("+13135550101") == []
    clock.set(datetime(2026, 12, 14, 9, 0, 1, tzinfo=DETROIT))
    run_worker_once(container)
    [notice] = [m["body"] for m in twilio.sent_to("+13135550101")]
    assert notice.startswith("Hi Jim: you're on call for after-hours now, after hours only, until")
    assert "Monday, December 21, 9:00 AM" in notice
    assert "You inherit 1 open: Brightside Bakery (Lucy Chen)" in notice
    with container.services.uow() as uow:
        keys = [t.key for t in uow.timers.pending("handoff:after-hours:")]
    assert keys == ["handoff:after-hours:7"]  # and the next one is waiting
    container.db.dispose()
