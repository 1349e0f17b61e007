"""The Slack staff inbox is kept by jobs of the worker (bot/channels/slack/inbox_mirror.py):
real workers built as bot/bootstrap.py builds them, the real slack_sdk posting to the Web API
stand-in, on SQLite and PostgreSQL. No outbox row is ever written for the mirror."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from adapters.base import HoldsConnections
from adapters.standins.slack import SlackStandIn
from adapters.standins.twilio import TwilioStandIn
from bot.bootstrap import build_container, build_worker, sync_config
from bot.channels.slack.inbox_mirror import MIRROR, REFRESH
from bot.config import load_config
from bot.container import Container
from bot.jobs.worker import Worker
from routing.clock import Clock, FrozenClock, OffsetClock
from routing.messages import Channel, InboundMessage
from storage.tables import ConversationRow, OutboxRow
from storage.unit_of_work import UnitOfWork
from tests.e2e.conftest import MONDAY_MORNING
from tests.e2e.test_slack_flow import INBOX, SECRET, TOKEN
from tests.support.app import EXAMPLE_CONFIG, app_settings

DANA, GEORGE, LUCY = "+13135550142", "+447700900123", "+13135550150"
NAMES = {DANA: "Dana Reyes", GEORGE: "George Hill", LUCY: "Lucy Chen"}
_sids = itertools.count(1)
_made: list[Container] = []  # this test's, whose Slack connections close as it ends


@pytest.fixture(autouse=True)
async def _close_connections() -> AsyncIterator[None]:
    yield
    while _made:
        for adapter in _made.pop().adapters.values():
            if isinstance(adapter, HoldsConnections):
                await adapter.aclose()


def mirror_container(
    db_url: str, twilio: TwilioStandIn, slack: SlackStandIn, clock: Clock
) -> Container:
    """A Partnerline with the Slack channel and its staff inbox (examples/agency.toml)."""
    settings = app_settings(
        db_url,
        twilio.url,
        "http://localhost:9",
        SLACK_BOT_TOKEN=TOKEN,
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=slack.api_url,
        PARTNERLINE_WORKER_MAX_SLEEP=0.05,  # the other worker's commits are seen at once
    )
    container = build_container(settings, load_config(EXAMPLE_CONFIG), clock=clock)
    _made.append(container)
    return container


def receive(container: Container, sender: str, text: str) -> None:
    """A client's SMS filed with all that follows it, in one transaction (which asks for the
    conversation's sync)."""
    msg = InboundMessage(Channel.SMS, f"SM{next(_sids):032d}", sender, text, container.clock.now())
    container.services.receive(msg)


async def drain(worker: Worker) -> None:
    """Run the worker's cycles until nothing is due."""
    while await worker.run_once() or await worker.finish_jobs():
        pass


def mirror_rows(container: Container) -> int:
    """Outbox rows of the kind the mirror's syncs were before they became jobs."""
    with container.services.uow() as uow:
        return int(
            uow.session.execute(
                select(func.count()).select_from(OutboxRow).where(OutboxRow.kind == MIRROR)
            ).scalar_one()
        )


def root_updates(slack: SlackStandIn, root: dict[str, Any]) -> int:
    return sum(
        1
        for call in slack.calls("chat.update")
        if call.params.get("channel") == INBOX and call.params.get("ts") == root["ts"]
    )


async def until(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def dana_writes(
    db_url: str, twilio: TwilioStandIn, slack: SlackStandIn
) -> tuple[Container, Worker, FrozenClock, dict[str, Any]]:
    """Dana (priority tier) writes on Monday morning; the worker mirrors it: the container,
    its worker, the clock and the thread's root as posted."""
    clock = FrozenClock(MONDAY_MORNING)
    container = mirror_container(db_url, twilio, slack, clock)
    sync_config(container)
    worker = build_worker(container)
    await asyncio.to_thread(receive, container, DANA, "Can you call me?")
    await drain(worker)
    [root] = slack.messages(INBOX)
    return container, worker, clock, root


async def test_a_sync_cut_short_by_an_error_posts_nothing_twice(
    db_url: str, twilio: TwilioStandIn, slack: SlackStandIn
) -> None:
    """A sync records its posts in one transaction, not one per post: when Slack refuses a
    post halfway through, what went out before it is recorded all the same, and the sync
    that runs again posts only the rest."""
    container, worker, clock, root = await dana_writes(db_url, twilio, slack)
    try:
        for n in range(1, 4):  # one sync finds the three pending
            await asyncio.to_thread(receive, container, DANA, f"more {n}")
        slack.fail_next(status=500, error="internal_error", method="chat.postMessage", after=1)
        await drain(worker)
        texts = [m["text"] for m in slack.thread(INBOX, root["ts"])]
        assert texts == ["Dana Reyes (SMS): Can you call me?", "Dana Reyes (SMS): more 1"]
        clock.advance(timedelta(minutes=10))  # past the job's backoff
        await drain(worker)
        assert [m["text"] for m in slack.thread(INBOX, root["ts"])] == [
            "Dana Reyes (SMS): Can you call me?",
            *(f"Dana Reyes (SMS): more {n}" for n in range(1, 4)),
        ]
    finally:
        container.db.dispose()


async def test_the_root_shows_at_risk_and_breach_when_the_commitment_moves(
    db_url: str, twilio: TwilioStandIn, slack: SlackStandIn
) -> None:
    container, worker, clock, root = await dana_writes(db_url, twilio, slack)
    try:
        assert "⏳ Reply due by Mon 07 Dec 10:30 EST" in root["text"]
        with container.services.uow() as uow:
            # Nothing polls for the state change: no job is left once the root is posted.
            assert uow.timers.pending(f"{MIRROR}:") == []
            assert uow.timers.pending(f"{REFRESH}:") == []

        # Priority: 30 business minutes, at risk at 75% (10:22:30). Just before, nothing.
        clock.set(MONDAY_MORNING + timedelta(minutes=22, seconds=29))
        await drain(worker)
        assert root_updates(slack, root) == 0

        # The commitment's timer moves it; the same transaction asks for the sync, which
        # edits the root, once.
        clock.set(MONDAY_MORNING + timedelta(minutes=22, seconds=30))
        await drain(worker)
        assert (
            "⚠️ At risk: reply due by Mon 07 Dec 10:30 EST"
            in slack.message(INBOX, root["ts"])["text"]
        )
        assert root_updates(slack, root) == 1

        clock.set(MONDAY_MORNING + timedelta(minutes=30))
        await drain(worker)
        assert "🔴 Breached" in slack.message(INBOX, root["ts"])["text"]
        assert root_updates(slack, root) == 2
        assert len(slack.messages(INBOX)) == 1  # edited in place, never posted again
        assert [m["text"] for m in slack.thread(INBOX, root["ts"])] == [
            "Dana Reyes (SMS): Can you call me?"
        ]
        with container.services.uow() as uow:
            assert uow.timers.pending(f"{MIRROR}:") == []
        assert mirror_rows(container) == 0
    finally:
        container.db.dispose()


async def test_a_delayed_look_left_by_an_earlier_version_runs_one_sync(
    db_url: str, twilio: TwilioStandIn, slack: SlackStandIn
) -> None:
    container, worker, clock, root = await dana_writes(db_url, twilio, slack)
    try:
        with UnitOfWork(container.db) as uow:  # no hooks: the mirror is not told of this
            conv_id = uow.session.execute(select(ConversationRow.id)).scalar_one()
            uow.conversations.add_message(
                conv_id,
                direction="note",
                channel="sms",
                text="Calling her at 11",
                author_type="staff",
                author_id="ana",
                author_name="Ana Ortiz",
                at=clock.now(),
                delivery=None,
            )
            uow.timers.schedule(
                f"{REFRESH}:1:at_risk",
                REFRESH,
                clock.now(),
                clock.now(),
                {"conversation": conv_id, "commitment": 1, "state": "at_risk"},
            )
            uow.commit()
        await drain(worker)
        # The look asked for the conversation's sync, which posted what the thread lacked.
        thread = [m["text"] for m in slack.thread(INBOX, root["ts"])]
        assert len(thread) == 2 and "Calling her at 11" in thread[1]
        with container.services.uow() as uow:
            assert uow.timers.pending(f"{REFRESH}:") == []
            assert uow.timers.pending(f"{MIRROR}:") == []
        assert len(slack.messages(INBOX)) == 1
    finally:
        container.db.dispose()


async def test_two_workers_post_each_message_of_a_conversation_once(
    db_url: str, twilio: TwilioStandIn, slack: SlackStandIn
) -> None:
    """Two workers (each its own engine, Slack client and mirror, as two processes have) run
    while messages keep arriving: every commit asks for its conversation's sync, often while
    the other worker is running that conversation's sync. Each root and each message is
    posted once, in order."""
    clock = OffsetClock(MONDAY_MORNING)
    containers = [mirror_container(db_url, twilio, slack, clock) for _ in range(2)]
    rounds = 12
    senders = [DANA, GEORGE, LUCY]
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []
    try:
        sync_config(containers[0])
        workers = [build_worker(c) for c in containers]
        tasks = [asyncio.create_task(w.run(stop)) for w in workers]
        for n in range(rounds):
            for i, sender in enumerate(senders):
                await asyncio.to_thread(receive, containers[(n + i) % 2], sender, f"message {n}")

        def mirrored() -> bool:
            roots = slack.messages(INBOX)
            return len(roots) == len(senders) and all(
                len(slack.thread(INBOX, r["ts"])) >= rounds for r in roots
            )

        def idle() -> bool:
            with containers[0].services.uow() as uow:
                return not uow.timers.pending(f"{MIRROR}:")

        await until(mirrored)
        await until(idle)
        roots = slack.messages(INBOX)
        assert len(roots) == len(senders)
        for root in roots:
            [name] = [n for n in NAMES.values() if n in root["text"]]
            assert [m["text"] for m in slack.thread(INBOX, root["ts"])] == [
                f"{name} (SMS): message {n}" for n in range(rounds)
            ]
        assert mirror_rows(containers[0]) == 0
    finally:
        stop.set()
        for c in containers:
            c.wakeup.notify()
        await asyncio.gather(*tasks)
        for c in containers:
            c.db.dispose()
