"""Paging rules that need a clock in hand: a running page keeps the policy it opened with,
and each shift start tells the incoming person what they inherit."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
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
        await worker.finish_jobs()

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
        [page] = uow.pages.listing(None, 10)
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
    assert "Monday, December 21, 9:00 AM EST" in notice
    assert "You inherit 1 open: Brightside Bakery (Lucy Chen)" in notice
    with container.services.uow() as uow:
        keys = [t.key for t in uow.timers.pending("handoff:after-hours:")]
    assert keys == ["handoff:after-hours:7"]  # and the next one is waiting
    container.db.dispose()


# A page whose first step names nobody: an after-hours rotation on a calendar that never closes.
# The tier's own calendar never opens, so every message is after hours and acknowledged.
NOBODY_FIRST = """\
[agency]
name = "Night Desk"
timezone = "Australia/Sydney"

[hours.never]
timezone = "Australia/Sydney"

[hours.always]
timezone = "Asia/Kolkata"
monday = ["00:00-24:00"]
tuesday = ["00:00-24:00"]
wednesday = ["00:00-24:00"]
thursday = ["00:00-24:00"]
friday = ["00:00-24:00"]
saturday = ["00:00-24:00"]
sunday = ["00:00-24:00"]

[commitments.urgent]
hours = "never"
business = "1h"
after_hours = "next_business_day"
page_oncall = "always"
auto_reply = "Thanks {contact_first_name}: {oncall_first_name} is on call, reply by {due_local}."

[[staff]]
id = "raj"
name = "Raj Patel"
sms = "+13135550103"
notify = ["sms"]

[[staff]]
id = "kim"
name = "Kim Lee"
sms = "+13135550104"
notify = ["sms"]

[[rotations]]
id = "office-nights"
members = ["raj"]
start = "2026-11-02T09:00"
shift = "1w"
hours = "always"
only = "after_hours"

[escalations.night]
steps = [
  { notify = ["rotation:office-nights"], wait = "10m" },
  { notify = ["staff:kim"], wait = "10m" },
]

[[clients]]
id = "acme"
name = "Acme Robotics"
commitment = "urgent"
escalation = "night"
account_team = ["kim"]

[[clients.contacts]]
name = "Dana Reyes"
sms = "+13135550142"

[unknown_senders]
commitment = "urgent"

[channels.sms]
from = "+13135550100"
"""
DANA, KIM = "+13135550142", "+13135550104"
SYDNEY_NIGHT = datetime(2026, 12, 8, 23, 30, tzinfo=ZoneInfo("Australia/Sydney"))


def test_a_step_that_names_nobody_passes_at_once_to_the_next(
    db_url: str, twilio: TwilioStandIn, tmp_path: Path
) -> None:
    path = tmp_path / "night.toml"
    path.write_text(NOBODY_FIRST, encoding="utf-8")
    clock = FrozenClock(SYDNEY_NIGHT)
    container = container_for(db_url, twilio, path, clock)
    container.services.receive(
        InboundMessage(Channel.SMS, "SM" + "n" * 32, DANA, "help", clock.now())
    )
    run_worker_once(container)  # no time passes
    # The acknowledgement names the first person the page can reach, not "our on-call lead".
    [ack] = [m["body"] for m in twilio.sent_to(DANA)]
    assert ack.startswith("Thanks Dana: Kim is on call, reply by")
    [page] = [m["body"] for m in twilio.sent_to(KIM)]
    assert "Dana Reyes (Acme Robotics) wrote on sms" in page
    with container.services.uow() as uow:
        [record] = uow.pages.listing(None, 10)
    assert record.step == 2
    container.db.dispose()


def test_a_page_that_reaches_nobody_says_so_in_the_conversation(
    db_url: str, twilio: TwilioStandIn, tmp_path: Path
) -> None:
    path = tmp_path / "nobody.toml"
    only_rotation = NOBODY_FIRST.replace(
        '  { notify = ["staff:kim"], wait = "10m" },\n]', "]\nrepeat = 1"
    )
    path.write_text(only_rotation, encoding="utf-8")
    clock = FrozenClock(SYDNEY_NIGHT)
    container = container_for(db_url, twilio, path, clock)
    ingested = container.services.receive(
        InboundMessage(Channel.SMS, "SM" + "m" * 32, DANA, "anyone?", clock.now())
    )
    run_worker_once(container)
    # Between rounds the step's wait still applies: a page of nobody does not spin.
    with container.services.uow() as uow:
        [record] = uow.pages.listing(None, 10)
        assert (record.step, record.round) == (1, 0)
        assert [t.key for t in uow.timers.pending(f"page:{record.id}:")] == [
            f"page:{record.id}:step:1:1"
        ]
    clock.advance(timedelta(minutes=10))
    run_worker_once(container)
    assert ingested.conversation is not None
    with container.services.uow() as uow:
        messages = uow.conversations.messages(ingested.conversation.id)
        [record] = uow.pages.listing(None, 10)
        assert uow.timers.pending(f"page:{record.id}:") == []
    notes = [m.text for m in messages if m.direction == "note"]
    assert len(notes) == 1 and notes[0].startswith("Nobody could be paged")
    assert twilio.sent_to(KIM) == [] and twilio.sent_to("+13135550103") == []
    container.db.dispose()
